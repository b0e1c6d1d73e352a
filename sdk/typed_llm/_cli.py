"""Command line: ``typed-llm``."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    del argv
    return 0
