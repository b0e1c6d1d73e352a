"""The client registry: which client ``client()`` returns, built lazily, safe for threads.

``openai`` and ``azure`` are registered by default as builders, run on first use from the loaded
``Settings``, so importing the package needs no key and reads no file. ``register_client`` adds or
replaces a client (or a builder); ``force_api_type`` overrides the configured API type;
``force_api_cache`` turns the response cache on or off for the registered clients.

As in the seed (TinyTroupe's ``openai_utils``), the default for an API type is one client of the
seed's class (``openai_utils.OpenAIClient``, ``AzureClient``), built once and kept: ``client()``
returns that same object until a registration for its API type replaces it, whatever
``force_api_type`` chose in between, and ``force_api_cache`` changes it in place (the seed called
``set_api_cache`` on every registered client). So ``c = openai_utils.client()`` kept in a variable,
as the seed's examples do, takes a new cache setting on its next call. What a cache change
replaces is the typed client underneath (``typed_client()``), whose cache is fixed when built.

The registry owns what it builds: the clients its builders return (and the typed clients those
build) and the seed-style wrappers ``openai_utils.client()`` puts around a typed client registered
for an API type. ``close()`` closes them all; it forgets them too, except the default clients,
which stay the same objects (their typed clients closed, built again on their next call). The next
use builds what was forgotten again. A client instance given to ``register_client`` is the
caller's to close: the registry never closes it.

What a cache change or a registration supersedes is *retired*: held only weakly, and not closed
there and then. A caller may still hold it (an old ``typed_client()``, a client a registration
replaced) and another thread may be in the middle of a call on it: closing its connection pool
under that call would break it. Once nobody holds it, it is freed and its pool closes with it (the
openai client closes its HTTP client when freed); one still held when ``close()`` runs is closed
then. So nothing a process toggling the cache no longer uses is kept, and no call in flight breaks.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Literal, cast

from typed_llm._compat.settings import Settings
from typed_llm._errors import ConfigurationError, UnknownAPITypeError
from typed_llm._logging import set_max_content_length

if TYPE_CHECKING:
    from collections.abc import Callable

    from typed_llm._compat.seed_client import SeedClient
    from typed_llm._typing import Client

__all__ = [
    "UnknownAPITypeError",
    "client",
    "close",
    "default_in_use",
    "force_api_cache",
    "force_api_type",
    "register_client",
    "registered",
    "settings",
]

_TYPED = ("complete", "parse", "embed")
"""What a typed client has (what ``LLMCall`` and ``typed_client()`` call)."""
_SEED = ("send_message", "get_embedding")
"""What a seed-style client has (what ``openai_utils.client()`` and ``get_embedding`` call)."""


_lock = threading.RLock()
_builders: dict[str, Callable[[], object]] = {}
_built: dict[str, object] = {}
_forced_type: str | None = None
_overrides: dict[str, object] = {}
_settings: Settings | None = None
_owned: list[object] = []
"""The clients in ``_built`` that a builder built (not given ones): ``close()`` closes them."""
_retired: list[Callable[[], object | None]] = []
"""Superseded clients and wrappers the registry built, each held weakly (``weakref.ref``; one that
cannot be referenced weakly is held as it is): ``close()`` closes those still alive."""
wrappers: dict[int, tuple[object, object]] = {}
"""``openai_utils.client()``'s seed-style wrappers, by the id of the typed client they wrap (the
registry's, under its lock): retired with the client they wrap; ``close()`` closes and forgets them."""


def settings() -> Settings:
    """The settings in force (loaded once, on first use, with any forced overrides)."""
    global _settings  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        if _settings is None:
            _settings = Settings.load(
                None, environ=None, **_overrides
            )  # forced values: checked like the rest
            set_max_content_length(_settings.max_content_display_length)
        return _settings


def _default(api_type: Literal["openai", "azure"]) -> Callable[[], object]:
    def build() -> object:
        # Deferred: seed_client imports this module (its clients read the settings from here).
        from typed_llm._compat.seed_client import AzureClient, OpenAIClient  # noqa: PLC0415

        return AzureClient() if api_type == "azure" else OpenAIClient()

    return build


_DEFAULTS: dict[str, Callable[[], object]] = {"openai": _default("openai"), "azure": _default("azure")}
"""The default builders: one client of the seed's class each, as the seed registered at import
(built here on first use); its typed client is the one the settings describe."""


def _has(client: object, names: tuple[str, ...]) -> bool:
    return all(callable(getattr(client, name, None)) for name in names)


def _checked(api_type: str, client: object) -> object:
    """``client`` if it is a typed or a seed-style client; else a ConfigurationError saying what it lacks."""
    if _has(client, _TYPED) or _has(client, _SEED):
        return client
    kind = type(client).__name__
    found = [name for name in (*_TYPED, *_SEED) if callable(getattr(client, name, None))]
    has = f"it has {', '.join(found)} only" if found else "it has none of them"
    raise ConfigurationError(
        f"register_client({api_type!r}, {kind}): a client needs complete, parse and embed (a typed_llm "
        f"client) or send_message and get_embedding (a seed-style client, such as a subclass of "
        f"typed_llm.openai_utils.OpenAIClient); {has}"
    )


def _retire(found: object) -> None:
    """Hold ``found`` weakly from now on (see the module's docstring); forget retired ones since freed."""
    try:
        holder: Callable[[], object | None] = weakref.ref(found)
    except TypeError:  # no weak reference to it (no __weakref__ slot): kept as before, until close()
        holder = lambda: found  # noqa: E731  (a holder like weakref.ref: called, it gives the object)
    _retired[:] = [held for held in _retired if held() is not None]
    _retired.append(holder)


def _drop(api_type: str) -> None:
    """Stop using the client built or given for ``api_type``; retire what the registry built for it.

    Its wrapper (``openai_utils.client()``'s) is the registry's own whoever built the client; the
    client itself is retired only when a builder built it (a given one is its owner's).
    """
    found = _built.pop(api_type, None)
    if found is None:
        return
    known = wrappers.pop(id(found), None)
    if known is not None and known[0] is found:
        _retire(known[1])
    if any(found is owned for owned in _owned):
        _owned[:] = [owned for owned in _owned if owned is not found]
        _retire(found)


def register_client(api_type: str, client: object) -> None:
    """Register ``client`` (or a function that builds it on first use) for ``api_type``.

    A client is a typed one (``complete``, ``parse``, ``embed``: ``typed_llm.OpenAIClient``...)
    or a seed-style one (``send_message``, ``get_embedding``: ``openai_utils.OpenAIClient`` and its
    subclasses). What a builder returns is checked when it is built.

    Raises:
        ConfigurationError: ``client`` is neither, nor a function (the message says what it lacks).
    """
    given: object = api_type  # callers without a type checker may pass anything
    if not isinstance(given, str) or not given:
        raise ConfigurationError(f"register_client: api_type must be a non-empty string, got {api_type!r}")
    is_client = any(callable(getattr(client, name, None)) for name in (*_TYPED, *_SEED))
    with _lock:
        _drop(api_type)
        if isinstance(client, type) or (callable(client) and not is_client):  # a class builds too
            _builders[api_type] = client
        else:
            _builders.pop(api_type, None)
            _built[api_type] = _checked(api_type, client)


def registered() -> object:
    """What is registered for the configured (or forced) API type, built on first use, as it is.

    Raises:
        UnknownAPITypeError: no client is registered for that API type.
        ConfigurationError: the default client cannot be built, or a builder built no client.
    """
    with _lock:
        api_type = _forced_type or settings().api_type
        if api_type in _built:
            return _built[api_type]
        builder = _builders.get(api_type)
        if builder is None:
            raise UnknownAPITypeError(api_type, tuple(sorted({*_builders, *_built})))
        built = _checked(api_type, builder())
        _built[api_type] = built
        _owned.append(built)
        return built


def default_in_use() -> SeedClient | None:
    """The client in force when a default builder built it (one of the seed's class), else None."""
    with _lock:
        api_type = _forced_type or settings().api_type
        if api_type in _DEFAULTS and _builders.get(api_type) is _DEFAULTS[api_type]:
            return cast("SeedClient", registered())
        return None


def client() -> Client:
    """The typed client for the configured (or forced) API type, built on first use.

    For a default API type, the typed client underneath the seed-style one ``openai_utils.client()``
    returns: a cache change replaces it (ask again for the new one; the old one keeps working).

    Raises:
        UnknownAPITypeError: no client is registered for that API type.
        ConfigurationError: the default client cannot be built (missing key or endpoint), or the
            registered client is seed-style only (``send_message``, no ``complete``).
    """
    with _lock:
        default = default_in_use()
        found = registered() if default is None else default
    if default is not None:  # outside the registry's lock: a seed client takes its own, then this one
        return default._typed()  # noqa: SLF001  (the seed class's own accessor, built on first use)
    if not _has(found, _TYPED):
        raise ConfigurationError(
            f"the client registered for {_forced_type or settings().api_type!r} ({type(found).__name__}) "
            "is seed-style only (send_message, get_embedding): LLMCall and typed_client() need "
            "complete, parse and embed; subclass typed_llm.openai_utils.OpenAIClient to have both"
        )
    return cast("Client", found)


def force_api_type(api_type: str | None) -> None:
    """Use ``api_type`` whatever the settings say (None: back to the settings)."""
    global _forced_type  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        _forced_type = api_type


def _adjustable(found: object) -> bool:
    """Whether ``found`` takes a cache setting in place (``force_api_cache`` calls its ``set_api_cache``).

    A seed-style client that builds its own typed client; one wrapping a typed client built
    elsewhere refuses the setting, so a builder's is built anew instead.
    """
    return callable(getattr(found, "set_api_cache", None)) and getattr(found, "_own", True)


def force_api_cache(cache_api_calls: bool, cache_file_name: str | None = None) -> None:  # noqa: FBT001  (the seed's signature)
    """Turn the response cache on or off for every registered client, as the seed did, in place.

    The seed called ``set_api_cache(cache_api_calls, cache_file_name)`` on each registered client,
    its file name defaulting to the configured one; so here: the default clients and the seed-style
    ones registered keep their identity (a reference kept from before takes the setting on its next
    call, and a call already under way finishes as it began). ``cache_file_name`` None: the
    configured ``CACHE_FILE_NAME``, not one forced before. A typed client a builder built for
    ``openai`` or ``azure`` is rebuilt on next use (its cache is fixed when it is built); one given
    to ``register_client`` is its owner's, and is left as it is.

    Raises:
        SettingsError: on next use, if the value forced is not a valid setting (an empty file name).
    """
    global _settings  # noqa: PLW0603  (the registry is process state, by design)
    with _lock:
        _overrides["cache_api_calls"] = cache_api_calls
        if cache_file_name is None:
            _overrides.pop("cache_file_name", None)
        else:
            _overrides["cache_file_name"] = cache_file_name
        _settings = None
        for api_type in ("openai", "azure"):
            if api_type in _builders and not _adjustable(_built.get(api_type)):  # its cache is fixed
                _drop(api_type)  # built anew on next use
        seed_style = [found for found in _built.values() if _adjustable(found)]
    for found in seed_style:  # outside the lock: a seed client takes its own lock, then the registry's
        found.set_api_cache(cache_api_calls, cache_file_name)  # type: ignore[attr-defined]  # checked just above


def close() -> None:
    """Close every client the registry built and the facade's wrappers (their per-call clients).

    Retired ones too (superseded by a rebuild or a registration) that are still alive. The default
    client of an API type (the seed's class) stays registered, the same object, as the seed kept
    it: only its typed clients are closed, and its next call builds them again. The others are
    forgotten: the next ``client()`` builds again. Registered instances stay registered and open
    (their owner closes them); a wrapper around one closes only what it built itself.
    """
    with _lock:
        retired = [found for held in _retired if (found := held()) is not None]
        closing = [wrapper for _, wrapper in wrappers.values()]
        closing.extend(_owned)
        closing.extend(retired)
        kept = [
            found
            for name, found in _built.items()
            if name in _DEFAULTS and _builders.get(name) is _DEFAULTS[name]
        ]
        for api_type in [name for name, found in _built.items() if any(found is c for c in _owned)]:
            if not any(_built[api_type] is default for default in kept):
                del _built[api_type]
        _owned[:] = kept
        _retired.clear()
        wrappers.clear()
    for found in closing:  # wrappers first: their own clients, then the typed clients they wrap
        close_client = getattr(found, "close", None)
        if callable(close_client):
            close_client()


def _reset() -> None:
    """Back to the state after import (for tests), closing what the registry built."""
    global _forced_type, _settings  # noqa: PLW0603  (the registry is process state, by design)
    close()
    with _lock:
        _builders.clear()
        _built.clear()
        _owned.clear()  # the default clients close() kept (closed just now)
        _overrides.clear()
        _forced_type = None
        _settings = None
        _builders.update(_DEFAULTS)


_reset()
