"""Settings: one immutable, typed object, loaded from arguments, environment, config.ini, defaults.

Precedence, per key: an explicit argument, then the environment variable ``TYPED_LLM_<KEY>`` (for
``CACHE_FILE_NAME`` also ``TYPED_LLM_CACHE_FILE``, the CLI's older name; both at once is refused), then
the ``[OpenAI]`` section of a ``config.ini`` (TinyTroupe's keys, upper case), then the default.
Loading checks every value and reports every bad one at once, each with its key, where it came
from and what was expected. Credentials are never settings: they stay in the environment
variables the clients read (``OPENAI_API_KEY``, ``AZURE_OPENAI_API_KEY``...).

Nothing is read at import time: ``Settings.load()`` is called when a client is first needed.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from typed_llm._backoff import ExponentialBackoff
from typed_llm._cache.sqlite import SQLiteCache
from typed_llm._cache.sqlite_inspect import DEFAULT_CACHE_FILE
from typed_llm._client import AzureClient, OpenAIClient
from typed_llm._errors import SettingsError
from typed_llm._models.requests import ReasoningEffort

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from typed_llm._typing import Client

__all__ = ["Settings", "SettingsError"]

Problem = tuple[str, str, str]
"""One bad setting: (key, where it came from, what was expected), as ``SettingsError.problems`` holds."""

_ENV_PREFIX = "TYPED_LLM_"
_SECTION = "OpenAI"
_ALIASES = {"freq_penalty": "frequency_penalty"}
"""Other names of a key in the seed's config.ini (its ConfigManager reads ``FREQ_PENALTY``)."""
_ENV_ALIASES = {"TYPED_LLM_CACHE_FILE": "cache_file_name"}
"""Other environment names of a key: ``typed-llm cache`` documented ``TYPED_LLM_CACHE_FILE``
before it read the settings, so that name still names the facade's cache file, for the CLI and
the facade alike (``TYPED_LLM_CACHE_FILE_NAME`` is the name the ``TYPED_LLM_<KEY>`` rule gives)."""


class Settings(BaseModel):
    """The SDK's settings (TinyTroupe's ``[OpenAI]`` keys, plus what typed-llm adds)."""

    # No inf or nan in any setting: a timeout or a wait of inf passes a bound and fails every call.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    api_type: Literal["openai", "azure"] = "openai"
    """Which registered client ``client()`` returns."""
    model: str = Field(default="gpt-4o-mini", min_length=1)
    """Default chat model."""
    reasoning_model: str = Field(default="o3-mini", min_length=1)
    """The seed's model for work that needs careful reasoning (``REASONING_MODEL``): TinyTroupe
    passes it as ``model=``; the facade never picks it on its own."""
    max_tokens: int = Field(default=1024, gt=0)
    """Default output token limit."""
    max_completion_tokens: int | None = Field(default=None, gt=0)
    """The newer seed's output limit (``MAX_COMPLETION_TOKENS``): when set, the facade's default
    limit instead of ``max_tokens``, sent as ``max_completion_tokens``."""
    reasoning_effort: ReasoningEffort | None = None
    """Sent as ``reasoning_effort`` with calls of the facade to reasoning models (``REASONING_EFFORT``)."""
    max_concurrent_model_calls: int | None = Field(default=None, ge=0)
    """At most this many facade calls in flight at once, per client (``MAX_CONCURRENT_MODEL_CALLS``;
    0 or ``NONE``: no limit)."""
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, ge=0, le=1)
    frequency_penalty: float = Field(default=0.0, ge=-2, le=2)
    presence_penalty: float = Field(default=0.0, ge=-2, le=2)
    timeout: float = Field(default=60.0, gt=0)
    """Seconds one attempt may take."""
    max_attempts: int = Field(default=5, ge=1)
    """Total tries of a call (the first included)."""
    waiting_time: float = Field(default=1.0, ge=0)
    """Wait before the first retry, in seconds."""
    exponential_backoff_factor: float = Field(default=5.0, ge=1)
    """Growth of the wait from one retry to the next."""
    embedding_model: str = Field(default="text-embedding-3-small", min_length=1)
    azure_embedding_model_api_version: str | None = None
    """Azure API version for embeddings only (``AZURE_EMBEDDING_MODEL_API_VERSION``; None: the chat one)."""
    base_url: str | None = None
    """An OpenAI-compatible server for the ``openai`` client (``BASE_URL``, as in the seed's Ollama
    config; None: ``OPENAI_BASE_URL``, else OpenAI's)."""
    azure_openai_endpoint: str | None = None
    """The Azure resource (``AZURE_OPENAI_ENDPOINT``; None: the environment variable of that name)."""
    cache_api_calls: bool = False
    """Keep responses in an SQLite cache."""
    cache_file_name: str = Field(default=DEFAULT_CACHE_FILE, min_length=1)
    """The cache file (a ``.pickle`` name from TinyTroupe becomes ``.sqlite3``; pickles are never read)."""
    azure_api_version: str | None = None
    """Azure API version (None: the client's default, or ``AZURE_OPENAI_API_VERSION``)."""
    max_content_display_length: int = Field(default=200, ge=0)
    """Message contents in debug logs are cut to this length."""
    preflight: bool = True
    """Count prompt tokens before sending and refuse what cannot fit the model's window."""

    @field_validator("max_concurrent_model_calls", mode="before")
    @classmethod
    def _none_word(cls, value: object) -> object:
        """The seed's config writes ``NONE`` (or 0) for no limit."""
        if isinstance(value, str) and value.strip().lower() in {"", "none"}:
            return None
        return value

    @property
    def output_limit(self) -> int:
        """The default output token limit: ``max_completion_tokens`` when set, else ``max_tokens``."""
        return self.max_completion_tokens or self.max_tokens

    @classmethod
    def load(
        cls,
        config_file: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **arguments: object,
    ) -> Settings:
        """Settings from ``arguments``, then ``TYPED_LLM_*`` variables, then ``config_file``, then defaults.

        Args:
            config_file: a config.ini with an ``[OpenAI]`` section; None reads ``TYPED_LLM_CONFIG``
                if set, else ``./config.ini`` if it exists, else no file.
            environ: the environment (default ``os.environ``).
            arguments: explicit values, by field name.

        Raises:
            SettingsError: every bad value, each with its key, source and what was expected.
        """
        values, sources, problems, _ = _gather(
            config_file, os.environ if environ is None else environ, arguments
        )
        settings, found, error = _validated(values, sources)
        problems.extend(found)
        if problems or settings is None:
            raise SettingsError(tuple(problems)) from error
        return settings

    @classmethod
    def load_only(
        cls,
        *names: str,
        config_file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> tuple[Settings, tuple[Problem, ...]]:
        """Settings for code that needs only ``names``, and the problems found that they do not depend on.

        ``names`` are loaded as ``load`` loads them; every other field is left at its default, so
        read only ``names`` from the result. Problems elsewhere do not make a value of ``names``
        wrong, so they are returned, not raised: the caller says it ignored them (``typed-llm
        cache`` needs only ``cache_file_name``, and a config.ini it does not need must not stop it).

        Raises:
            SettingsError: the problems ``names`` depend on: a bad value of one of them, or a
                config.ini that cannot be read while one of them is not given by an argument or the
                environment (the file could have given it: which value is meant cannot be known).
            ValueError: a name is not a setting (a mistake in the calling code).
        """
        if not names or not set(names) <= cls.model_fields.keys():
            raise ValueError(f"load_only needs setting names ({', '.join(cls.model_fields)}), got {names!r}")
        values, sources, problems, given = _gather(
            config_file, os.environ if environ is None else environ, {}
        )
        _, found, _ = _validated(values, sources)
        problems.extend(found)
        wanted = set(names)
        needs_file = not wanted <= given

        def depends(problem: Problem) -> bool:
            key = problem[0]
            return _ALIASES.get(key, key) in wanted or (key == "config_file" and needs_file)

        relevant = tuple(problem for problem in problems if depends(problem))
        if relevant:
            raise SettingsError(relevant)
        try:
            settings = cls.model_validate({name: values[name] for name in wanted if name in values})
        except ValidationError as exc:  # not reached: these values passed the whole check above
            raise SettingsError(tuple(problems)) from exc
        return settings, tuple(problems)

    def backoff(self) -> ExponentialBackoff:
        """The retry strategy these settings describe."""
        return ExponentialBackoff.from_seed(
            max_attempts=self.max_attempts,
            waiting_time=self.waiting_time,
            exponential_backoff_factor=self.exponential_backoff_factor,
        )

    def cache(self) -> SQLiteCache | None:
        """The response cache these settings ask for, or None."""
        return SQLiteCache.from_seed(
            cache_api_calls=self.cache_api_calls, cache_file_name=self.cache_file_name
        )

    def build_client(self, api_type: Literal["openai", "azure"] | None = None) -> Client:
        """The configured client of ``api_type`` (default: ``self.api_type``), with cache and backoff.

        Raises:
            ConfigurationError: credentials or endpoint missing (the message says what to set).
        """
        if (api_type or self.api_type) == "azure":
            return AzureClient(
                endpoint=self.azure_openai_endpoint,
                api_version=self.azure_api_version,
                timeout=self.timeout,
                backoff=self.backoff(),
                cache=self.cache(),
                preflight=self.preflight,
            )
        return OpenAIClient(
            base_url=self.base_url,
            timeout=self.timeout,
            backoff=self.backoff(),
            cache=self.cache(),
            preflight=self.preflight,
        )


def _gather(
    config_file: str | os.PathLike[str] | None, env: Mapping[str, str], arguments: Mapping[str, object]
) -> tuple[dict[str, object], dict[str, str], list[Problem], set[str]]:
    """The raw values by precedence, each one's source, the problems met, and the names given above the file.

    Per key: an argument, then the environment, then the config.ini; the last set holds the keys an
    argument or the environment gave (the file, readable or not, cannot change them).
    """
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    path = _config_path(config_file, env)
    if path is not None:
        for key, value in _read_ini(path, problems).items():
            values[key] = value
            sources[key] = f"{path} [{_SECTION}] {key.upper()}"
    given: set[str] = set()
    for name, (value, variable) in _read_env(Settings.model_fields, env, problems).items():
        values[name] = value
        sources[name] = f"environment variable {variable}"
        given.add(name)
    for name, argument in arguments.items():
        values[name] = argument
        sources[name] = "argument"
        given.add(name)
    return values, sources, problems, given


def _validated(
    values: Mapping[str, object], sources: Mapping[str, str]
) -> tuple[Settings | None, list[Problem], ValidationError | None]:
    """``values`` checked: the settings (None if any is bad), every problem, and pydantic's error."""
    unknown = [key for key in values if key not in Settings.model_fields]
    problems: list[Problem] = [(key, sources[key], "not a setting typed-llm knows") for key in unknown]
    try:
        return Settings.model_validate({k: v for k, v in values.items() if k not in unknown}), problems, None
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            key = str(error["loc"][0])
            problems.append((key, sources.get(key, "default"), error["msg"]))
        return None, problems, exc


def _read_env(
    names: Iterable[str], env: Mapping[str, str], problems: list[Problem]
) -> dict[str, tuple[str, str]]:
    """The settings the environment gives: name -> (value, the variable it came from).

    ``TYPED_LLM_<KEY>`` per setting, or an alias of ``_ENV_ALIASES``; a setting given by both is a
    problem (which one was meant cannot be known), and neither value is taken.
    """
    found = {
        name: (env[_ENV_PREFIX + name.upper()], _ENV_PREFIX + name.upper())
        for name in names
        if _ENV_PREFIX + name.upper() in env
    }
    for alias, name in _ENV_ALIASES.items():
        if alias not in env:
            continue
        if name in found:
            variable = found.pop(name)[1]
            problems.append(
                (name, f"environment variable {alias}", f"one of {alias} and {variable}, not both")
            )
        else:
            found[name] = (env[alias], alias)
    return found


def _config_path(config_file: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    if config_file is not None:
        return Path(config_file)
    if env.get("TYPED_LLM_CONFIG"):
        return Path(env["TYPED_LLM_CONFIG"])
    default = Path("config.ini")
    return default if default.is_file() else None


def _read_ini(path: Path, problems: list[Problem]) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        # Decoded whole, so an error can say where in the file it is; utf-8-sig, because Windows
        # editors save "UTF-8" with a byte order mark, which is still UTF-8.
        parser.read_string(path.read_bytes().decode("utf-8-sig"), source=str(path))
    except UnicodeDecodeError as exc:
        problems.append(("config_file", str(path), _not_utf8(exc)))
        return {}
    except (OSError, configparser.Error) as exc:
        # configparser's messages span lines (the file, the line, its text): one line per problem.
        problems.append(("config_file", str(path), f"a readable config.ini ({' '.join(str(exc).split())})"))
        return {}
    if not parser.has_section(_SECTION):
        return {}
    values = {key.lower(): value for key, value in parser.items(_SECTION)}
    for alias, name in _ALIASES.items():
        if alias in values:
            value = values.pop(alias)
            if name in values:
                problems.append(
                    (
                        alias,
                        f"{path} [{_SECTION}] {alias.upper()}",
                        f"one of {alias.upper()} and {name.upper()}, not both",
                    )
                )
            else:
                values[name] = value
    return values


def _not_utf8(exc: UnicodeDecodeError) -> str:
    """What to do about a config.ini in another encoding (the seed's files are ASCII, so UTF-8 reads them)."""
    if exc.object[:2] in {b"\xff\xfe", b"\xfe\xff"}:
        found = "it is UTF-16 (Windows' 'Unicode')"
    else:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        found = f"byte {exc.object[exc.start]:#04x} on line {line} is not UTF-8 (Latin-1 or cp1252?)"
    return f"a UTF-8 text file, but {found}: save it as UTF-8"
