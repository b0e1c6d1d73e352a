"""The ``typed-llm`` command line."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from typed_llm._cache.sqlite_inspect import DEFAULT_CACHE_FILE
from typed_llm._cli_respond import add_respond_parser, respond

__all__ = ["DEFAULT_CACHE_FILE", "main"]


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
    add_respond_parser(commands)
    cache = commands.add_parser("cache", help="look at, trim or empty a response cache (SQLite or Redis)")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    for name, text in (
        ("stats", "print what the cache holds, by model"),
        ("clear", "remove every entry"),
        ("invalidate", "remove the entries of a model snapshot, or older than an age"),
    ):
        command = cache_commands.add_parser(name, help=text)
        command.add_argument(
            "--file",
            type=Path,
            default=None,
            help="the cache file (default: the settings' CACHE_FILE_NAME, from $TYPED_LLM_CACHE_FILE_NAME "
            f"or config.ini, else {DEFAULT_CACHE_FILE}, the facade's)",
        )
        command.add_argument(
            "--redis", metavar="URL", help="a Redis cache (redis://host:port/db) instead of a file"
        )
        command.add_argument(
            "--prefix", default="typed-llm", help="the Redis cache's prefix (default typed-llm)"
        )
        if name == "invalidate":
            command.add_argument(
                "--model", help="the model snapshot, as the API named it (gpt-4o-2024-08-06)"
            )
            command.add_argument("--older-than", type=_age, metavar="AGE", help="an age: 90s, 30m, 12h or 7d")
    cassettes = commands.add_parser("cassettes", help="look after recorded cassettes")
    cassette_commands = cassettes.add_subparsers(dest="cassettes_command", required=True)
    check = cassette_commands.add_parser(
        "check", help="fail on anything in cassettes that looks like a secret"
    )
    check.add_argument("folders", nargs="+", type=Path, help="folders of YAML cassettes")
    tokens = commands.add_parser("tokens", help="count tokens offline, as the model's tokenizer does")
    tokens.add_argument("text", nargs="?", help="the text to count (or give --messages)")
    tokens.add_argument("--model", required=True, help="the model whose tokenizer to use, e.g. gpt-4o-mini")
    tokens.add_argument(
        "--messages",
        type=Path,
        help="a JSON file: a list of chat messages, or a request body with messages (and tools)",
    )
    return parser


def _tokens(text: str | None, model: str, messages: Path | None) -> int:
    import json  # noqa: PLC0415  (keep --help fast)

    from pydantic import TypeAdapter, ValidationError  # noqa: PLC0415

    from typed_llm._models.messages import Message  # noqa: PLC0415
    from typed_llm._models.requests import FunctionTool  # noqa: PLC0415
    from typed_llm._tokens import count_message_tokens, count_tokens, encoding_for_model  # noqa: PLC0415
    from typed_llm._window import model_limits  # noqa: PLC0415

    if (text is None) == (messages is None):
        print("typed-llm: give either TEXT or --messages FILE", file=sys.stderr)
        return 2
    if messages is not None:
        try:
            document = json.loads(messages.read_text())
            body = document if isinstance(document, dict) else {"messages": document}
            parsed = TypeAdapter(tuple[Message, ...]).validate_python(body.get("messages"))
            tools = TypeAdapter(tuple[FunctionTool, ...] | None).validate_python(body.get("tools"))
        except (OSError, ValueError, ValidationError) as exc:
            print(f"typed-llm: cannot read messages from {messages}: {exc}", file=sys.stderr)
            return 2
        count = count_message_tokens(parsed, model, tools)
        what = f"{len(parsed)} messages" + (f" and {len(tools)} tools" if tools else "")
    else:
        count = count_tokens(text or "", model)
        what = "text"
    limits = model_limits(model)
    window = f" of a {limits.context_window}-token window" if limits else ""
    print(f"{count} tokens ({what}, {encoding_for_model(model).name}{window})")
    return 0


def _check_cassettes(folders: list[Path]) -> int:
    from typed_llm.testing._vcr import scan  # noqa: PLC0415  (keep --help fast)

    missing = [folder for folder in folders if not folder.is_dir()]
    for folder in missing:
        what = "is not a folder" if folder.exists() else "does not exist"
        print(f"typed-llm: {folder} {what}: nothing was checked there", file=sys.stderr)
    if missing:
        return 2
    findings = [finding for folder in folders for finding in scan(folder)]
    for path, line, why in findings:
        print(f"{path}:{line}: {why}")
    files = sum(len(list(folder.rglob("*.yaml"))) for folder in folders)
    if findings:
        print(f"typed-llm: {len(findings)} possible secret(s) in cassettes", file=sys.stderr)
        return 1
    print(f"{files} cassette file(s) checked: nothing that looks like a secret")
    return 0


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _age(text: str) -> timedelta:
    unit = _UNITS.get(text[-1:])
    try:
        amount = float(text[:-1] if unit else text)
    except ValueError:
        amount = float("nan")
    if not 0 <= amount < float("inf"):
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (say 90s, 30m, 12h or 7d)")
    return timedelta(seconds=amount * (unit or 1))


def _default_cache_path() -> Path:
    """The facade's cache file: the settings' ``cache_file_name``, read exactly as the facade reads it.

    ``TYPED_LLM_CACHE_FILE_NAME`` (or its older alias ``TYPED_LLM_CACHE_FILE``), else config.ini's
    ``CACHE_FILE_NAME``, else the default: one rule, in ``Settings``, so the CLI never looks at
    another file than the one the facade writes.

    Only that setting is needed. A config.ini that cannot be read while the environment gives the
    name, or a bad value of another key, cannot change which file it is: each is a one-line warning
    here, not a failure (the facade, which uses every setting, refuses them). A problem that could
    change the name raises ``SettingsError``.
    """
    from typed_llm._cache.sqlite_inspect import seed_cache_path  # noqa: PLC0415  (keep --help fast)
    from typed_llm._compat.settings import Settings  # noqa: PLC0415

    settings, ignored = Settings.load_only("cache_file_name")
    for key, source, expected in ignored:
        print(
            f"typed-llm: warning: {key} (from {source}): {expected}; "
            "ignored: the cache file's name does not depend on it",
            file=sys.stderr,
        )
    return seed_cache_path(settings.cache_file_name)


def _cache(args: argparse.Namespace) -> int:
    from typed_llm._cache.redis import RedisCache  # noqa: PLC0415  (keep --help fast)
    from typed_llm._cache.sqlite import SQLiteCache  # noqa: PLC0415
    from typed_llm._cache.sqlite_inspect import read_stats  # noqa: PLC0415
    from typed_llm._errors import CacheError, ConfigurationError, SettingsError  # noqa: PLC0415

    command = args.cache_command
    if command == "invalidate" and args.model is None and args.older_than is None:
        print(
            "typed-llm: cache invalidate needs --model or --older-than (clear removes all)", file=sys.stderr
        )
        return 2
    try:
        # A Redis cache needs no file, so no settings either (a broken config.ini cannot stop it).
        path = None if args.redis is not None else args.file or _default_cache_path()
        if path is not None and not path.is_file():
            print(f"typed-llm: no cache file at {path}", file=sys.stderr)
            return 1
        if path is not None:
            stats, by_model = read_stats(path)  # read-only: refuses a file that is not a cache
        if command in {"clear", "invalidate"}:
            cache = (
                RedisCache(args.redis, prefix=args.prefix, timeout=5.0) if path is None else SQLiteCache(path)
            )
            if command == "clear":
                before = cache.stats().entries
                cache.clear()
                print(f"cleared {before} entries from {cache.stats().location}")
                return 0
            removed = cache.invalidate(model=args.model, older_than=args.older_than)
            print(f"removed {removed} entries from {cache.stats().location}")
            return 0
        if path is None:
            redis = RedisCache(args.redis, prefix=args.prefix, timeout=5.0)
            stats, by_model = redis.stats(), redis.entries_by_model()
    except (CacheError, ConfigurationError) as exc:  # the message names the cache, or each bad setting
        # and its source; a bad setting came from finding the file, so say how to name it instead.
        hint = "cannot tell which cache file to read (give --file, or set TYPED_LLM_CACHE_FILE_NAME): "
        print(f"typed-llm: {hint if isinstance(exc, SettingsError) else ''}{exc}", file=sys.stderr)
        return 1
    print(f"{'server' if args.redis else 'file'}     {stats.location}")
    print(f"entries  {stats.entries}")
    print(f"size     {stats.size_bytes} bytes")
    for model, count in sorted(by_model.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:>8}  {model}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    from typed_llm._log_setup import configure_logging  # noqa: PLC0415  (keep --help fast)

    if args.command == "demo":
        import io  # noqa: PLC0415  (keep --help fast)

        from typed_llm._demo import run, summarise_logs  # noqa: PLC0415

        # The demo's log lines are kept and summarised after its results (a tour, results first).
        lines = io.StringIO()
        configure_logging(json=True, level=args.log_level, stream=lines)
        run(sys.stdout)
        summarise_logs(lines.getvalue(), sys.stdout)
        return 0
    # Written at once: a command's log lines and its printed output keep their order.
    configure_logging(json=args.log_json, level=args.log_level)
    if args.command == "cassettes":
        return _check_cassettes(args.folders)
    if args.command == "tokens":
        return _tokens(args.text, args.model, args.messages)
    if args.command == "cache":
        return _cache(args)
    if args.command == "respond":
        return respond(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
