"""The public door: ``typed_llm.__all__`` lists exactly what the package exports, sorted."""

from __future__ import annotations

import subprocess
import sys

import typed_llm


def test_all_matches_public_names() -> None:
    """Every public attribute is in __all__, every name in __all__ exists, and __all__ is sorted."""
    public = {
        name
        for name, value in vars(typed_llm).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "typed_llm").startswith("typed_llm")
        and not isinstance(value, type(typed_llm))
    }
    assert set(typed_llm.__all__) >= public
    assert all(hasattr(typed_llm, name) for name in typed_llm.__all__)
    assert list(typed_llm.__all__) == sorted(typed_llm.__all__, key=lambda n: (not n.isupper(), n))


def test_import_needs_no_key_and_opens_nothing() -> None:
    """Importing the package reads no key and opens no connection (checked in a fresh process)."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('import opened a connection')\n"
        "socket.socket.connect = refuse\n"
        "import typed_llm\n"
        "print(len(typed_llm.__all__))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": ""},
    )
    assert done.returncode == 0, done.stderr
