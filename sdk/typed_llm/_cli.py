"""The ``typed-llm`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["DEFAULT_CACHE_FILE", "main"]

DEFAULT_CACHE_FILE = "typed_llm_cache.sqlite3"
"""The cache file the ``cache`` commands use when neither --file nor TYPED_LLM_CACHE_FILE names one."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="typed-llm", description="A strictly typed OpenAI / Azure OpenAI SDK."
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="lowest level of the log lines written to standard error (default: info)",
    )
    parser.add_argument(
        "--log-json", action="store_true", help="write log lines as JSON instead of readable text"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="make real SDK calls answered offline by a bundled recording, and print the typed results",
    )
    cache = commands.add_parser("cache", help="look at or empty an SQLite response cache")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    for name, text in (("stats", "print what the cache holds"), ("clear", "remove every entry")):
        command = cache_commands.add_parser(name, help=text)
        command.add_argument(
            "--file",
            type=Path,
            default=None,
            help=f"the cache file (default: $TYPED_LLM_CACHE_FILE, else {DEFAULT_CACHE_FILE})",
        )
    return parser


def _cache(command: str, path: Path) -> int:
    from typed_llm._cache import SQLiteCache  # noqa: PLC0415  (keep --help fast)

    if not path.is_file():
        print(f"typed-llm: no cache file at {path}", file=sys.stderr)
        return 1
    cache = SQLiteCache(path)
    if command == "clear":
        before = cache.stats().entries
        cache.clear()
        print(f"cleared {before} entries from {path}")
        return 0
    stats = cache.stats()
    print(f"file     {stats.location}")
    print(f"entries  {stats.entries}")
    print(f"size     {stats.size_bytes} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    from typed_llm._logging import configure_logging  # noqa: PLC0415  (keep --help fast)

    configure_logging(json=args.log_json, level=args.log_level)
    if args.command == "demo":
        from typed_llm._demo import run  # noqa: PLC0415  (keep --help fast)

        run(sys.stdout)
    elif args.command == "cache":
        path = args.file or Path(os.environ.get("TYPED_LLM_CACHE_FILE") or DEFAULT_CACHE_FILE)
        return _cache(args.cache_command, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
