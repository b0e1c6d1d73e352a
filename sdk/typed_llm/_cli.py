"""The ``typed-llm`` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="typed-llm", description="A strictly typed OpenAI / Azure OpenAI SDK."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="make real SDK calls answered offline by a bundled recording, and print the typed results",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from typed_llm._demo import run  # noqa: PLC0415  (keep --help fast)

        run(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
