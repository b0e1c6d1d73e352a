"""The client registry: which client ``client()`` returns, built lazily, safe for threads.

``openai`` and ``azure`` are registered by default as builders, run on first use from the loaded
``Settings``, so importing the package needs no key and reads no file. ``register_client`` adds or
replaces a client (or a builder); ``force_api_type`` overrides the configured API type;
``force_api_cache`` turns the SQLite cache on or off for the default clients.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from typed_llm._compat.settings import Settings
from typed_llm._errors import UnknownAPITypeError
from typed_llm._logging import set_max_content_length

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm._typing import Client

__all__ = [
    "UnknownAPITypeError",
    "client",
    "force_api_cache",
    "force_api_type",
    "register_client",
    "settings",
]


_lock = threading.RLock()
_builders: dict[str, Callable[[], Client]] = {}
_built: dict[str, Client] = {}
_forced_type: str | None = None
_overrides: dict[str, object] = {}
_settings: Settings | None = None


def settings() -> Settings:
    """The settings in force (loaded once, on first use, with any forced overrides)."""
    global _settings  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        if _settings is None:
            loaded = Settings.load()
            _settings = (
                Settings.model_validate({**loaded.model_dump(), **_overrides}) if _overrides else loaded
            )
            set_max_content_length(_settings.max_content_display_length)
        return _settings


def _default(api_type: str) -> Callable[[], Client]:
    return lambda: settings().build_client(api_type)  # type: ignore[arg-type]  # registered under its own literal name


def register_client(api_type: str, client: Client | Callable[[], Client]) -> None:
    """Register ``client`` (or a function that builds it on first use) for ``api_type``."""
    with _lock:
        _built.pop(api_type, None)
        if callable(client) and not hasattr(client, "complete"):
            _builders[api_type] = client
        else:
            _builders.pop(api_type, None)
            _built[api_type] = client  # type: ignore[assignment]  # has complete: a Client


def client() -> Client:
    """The client for the configured (or forced) API type, built on first use.

    Raises:
        UnknownAPITypeError: no client is registered for that API type.
        ConfigurationError: the default client cannot be built (missing key or endpoint).
    """
    with _lock:
        api_type = _forced_type or settings().api_type
        if api_type in _built:
            return _built[api_type]
        builder = _builders.get(api_type)
        if builder is None:
            raise UnknownAPITypeError(api_type, tuple(sorted({*_builders, *_built})))
        built = builder()
        _built[api_type] = built
        return built


def force_api_type(api_type: str | None) -> None:
    """Use ``api_type`` whatever the settings say (None: back to the settings)."""
    global _forced_type  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        _forced_type = api_type


def force_api_cache(cache_api_calls: bool, cache_file_name: str | None = None) -> None:  # noqa: FBT001  (the seed's signature)
    """Turn the response cache of the default clients on or off (they are rebuilt on next use)."""
    global _settings  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        _overrides["cache_api_calls"] = cache_api_calls
        if cache_file_name is not None:
            _overrides["cache_file_name"] = cache_file_name
        _settings = None
        for api_type in ("openai", "azure"):
            if api_type in _builders:
                _built.pop(api_type, None)


def _reset() -> None:
    """Back to the state after import (for tests)."""
    global _forced_type, _settings  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        _builders.clear()
        _built.clear()
        _overrides.clear()
        _forced_type = None
        _settings = None
        for api_type in ("openai", "azure"):
            _builders[api_type] = _default(api_type)


_reset()
