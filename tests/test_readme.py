"""Every Python block of the README runs, in order, as a reader would run the tour (issue 22, issue 16).

The blocks share one namespace (the tour builds ``client`` and ``request`` once and uses them
later) and run against the loopback fake: the environment points ``OPENAI_BASE_URL`` and the
Azure endpoint at it, with fake keys, in a temporary working directory. A block that stops
running, or an example whose names changed, fails here instead of in a reader's hands.
"""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, ROOT

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from typed_llm.testing import FakeAPI

BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [textwrap.dedent(match.group(2)) for match in BLOCK.finditer(text)]


def test_the_readme_has_its_tour() -> None:
    """The extraction finds the blocks (a broken fence would silently test nothing)."""
    assert len(_blocks()) >= 9


def test_every_readme_block_runs(
    fake: FakeAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each block runs after the ones before it, against the fake; nothing raises."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_base_url)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_AZURE_KEY)
    namespace: dict[str, object] = {"__name__": "readme"}
    for number, block in enumerate(_blocks()):
        try:
            exec(compile(block, f"README.md block {number}", "exec"), namespace)  # noqa: S102  (the README's own code)
        except Exception as exc:
            raise AssertionError(
                f"README block {number} failed: {type(exc).__name__}: {exc}\n{block}"
            ) from exc
    printed = capsys.readouterr().out
    assert "Echo:" in printed  # the tour's calls reached the fake and printed its answers
    assert len(fake.received) >= 5
