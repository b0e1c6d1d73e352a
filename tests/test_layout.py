"""The package's shape, checked: no import circle, ``_errors`` a leaf, no module over 500 lines.

Imports made at module level and at run time are the graph (imports under ``TYPE_CHECKING`` are
for the type checker only; a function-level import is a deliberate deferral, e.g. the CLI's).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sdk" / "typed_llm"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("typed_llm"):
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.startswith("typed_llm"))
    return imported


MODULES = {_module(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {
    name: {target for target in _runtime_imports(path) if target in MODULES and target != name}
    for name, path in MODULES.items()
}


def _cycle() -> list[str] | None:
    done: set[str] = set()
    for start in GRAPH:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for target in GRAPH[node]:
                if target == start:
                    return [*trail, start]
                if target not in trail and target not in done:
                    stack.append((target, [*trail, target]))
        done.add(start)
    return None


def test_no_import_circle() -> None:
    """No module imports, at run time, a module that imports it back (directly or around a loop)."""
    assert _cycle() is None


def test_errors_is_a_leaf() -> None:
    """``_errors`` (the exception classes) imports nothing of the package at run time."""
    assert GRAPH["typed_llm._errors"] == set()
    assert GRAPH["typed_llm._errors_replay"] == {"typed_llm._errors"}  # replay's errors: the second leaf


def test_no_module_is_over_500_lines() -> None:
    """Modules stay small enough to read: none over 500 lines."""
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert max(sizes.values()) <= 500, max(sizes.items(), key=lambda item: item[1])


def test_the_layers_know_no_operation() -> None:
    """The layers import the Operation description, never an API's wire module or its models."""
    for name in ("cache", "log", "retry", "preflight", "pipeline"):
        imports = GRAPH[f"typed_llm._layers.{name}"]
        assert not {
            t for t in imports if t.startswith(("typed_llm._wire.chat", "typed_llm._wire.embeddings"))
        }
        assert not {t for t in imports if t.startswith("typed_llm._models")}
