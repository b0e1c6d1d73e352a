"""Every Python block of the README runs on its own, as a reader who copies one would run it (issue 22).

Each block runs in a fresh namespace, so a block that uses a name it does not define fails here; a
block whose first line is a ``# continues from`` comment runs in the namespace of the block before
it. The blocks run against the loopback fake: the environment points ``OPENAI_BASE_URL`` and the
Azure endpoint at it, with fake keys, in a temporary working directory. A block that stops
running, or an example whose names changed, fails here instead of in a reader's hands.
"""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY, ROOT

if TYPE_CHECKING:
    from pathlib import Path

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
    namespace: dict[str, object] = {}
    for number, block in enumerate(_blocks()):
        if not block.startswith("# continues from"):
            namespace = {"__name__": f"readme_block_{number}"}
        try:
            exec(compile(block, f"README.md block {number}", "exec"), namespace)  # noqa: S102  (the README's own code)
        except Exception as exc:
            raise AssertionError(
                f"README block {number} failed: {type(exc).__name__}: {exc}\n{block}"
            ) from exc
    printed = capsys.readouterr().out
    # the tour's calls reached the fake and printed its (canned) answers
    assert "Because a type checker finds a wrong field" in printed
    assert len(fake.received) >= 5


def test_the_install_section_names_a_path_and_a_git_url() -> None:
    """The README says how to install from outside this repository (a path, a VCS URL)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Install (in your own project)", 1)[1].split("\n## ", 1)[0]
    assert "pip install /path/to/typed-llm" in section
    assert 'pip install "typed-llm @ git+https://' in section


def test_installing_from_a_path_works_outside_the_repository(tmp_path: Path) -> None:
    """The README's ``pip install /path/to/typed-llm``: the built package imports and replays elsewhere.

    The wheel is built from this tree and installed (without dependencies, which this environment
    has) into a folder that a fresh interpreter, started outside the repository, puts first on its
    path; the installed copy, not this tree, must answer, with its data files.
    """
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    uv = ROOT / ".tools" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("uv is installed by scripts/bootstrap")
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([uv, "build", "--wheel", "--quiet", "-o", wheels, ROOT], check=True, timeout=300)
    (wheel,) = wheels.glob("typed_llm-*.whl")
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--target", site, "--python", sys.executable, wheel],
        check=True,
        timeout=300,
    )
    probe = (
        "import typed_llm, typed_llm.testing, typed_llm.openai_utils\n"
        "from typed_llm._cli import main\n"
        "from pathlib import Path\n"
        "root = Path(typed_llm.__file__).parent\n"
        "assert (root / 'py.typed').exists() and (root / '_data' / 'demo.yaml').exists()\n"
        "print(root)\n"
        "raise SystemExit(main(['--log-level', 'warning', 'demo']))\n"
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=outside,
        env={"PATH": "", "PYTHONPATH": str(site)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(site / "typed_llm")
    assert "1. chat" in done.stdout
