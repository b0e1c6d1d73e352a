"""One stored format for every backend: the response's JSON in an envelope saying where it came from.

SQLite, memory and Redis store the same bytes, so an entry copied from one backend reads in any
other: ``{"provenance": {...}, "response": {...}}``, the response being the model's own JSON dump.
The provenance (when it was written, the model snapshot that answered, its ``system_fingerprint``,
the request id, the SDK release and the key version) lets a user find and drop the entries of one
model snapshot or of a bad day (``invalidate``) without guessing from keys. Entries written before
the envelope existed (the bare response JSON) still read: they are hits with no provenance.
The request that was answered rides along (``"request"``: its type, namespace and fields), so a
replay-only cache that misses can name the nearest stored request (``_cache/replay.py``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Final, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from typed_llm._cache.key import KEY_VERSION

__all__ = [
    "Provenance",
    "decode_answer",
    "decode_entry",
    "describe_entry",
    "encode_entry",
    "invalidation_cutoff",
    "matches",
    "stored_request",
]

S = TypeVar("S", bound=BaseModel)

_ENVELOPE: Final = b'{"provenance":'
"""How every enveloped entry starts (pydantic dumps fields in their declared order)."""


class Provenance(BaseModel):
    """Where a stored answer came from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    written_at: float
    """When it was stored: seconds since the epoch (UTC)."""
    model: str | None = None
    """The model snapshot that answered (``response.model``: ``gpt-4o-2024-08-06``, not ``gpt-4o``)."""
    system_fingerprint: str | None = None
    """The backend configuration that answered, when the API said."""
    request_id: str | None = None
    """The API's ``x-request-id`` of the call that paid for the answer."""
    sdk_version: str
    """The typed-llm release that stored it."""
    key_version: int
    """``KEY_VERSION`` of the key it is stored under."""


class _Entry(BaseModel, Generic[S]):
    model_config = ConfigDict(frozen=True)

    provenance: Provenance
    request: dict[str, object] | None = None
    """The answered request: ``{"type", "namespace", "fields"}`` (None in entries stored before it)."""
    response: S


@functools.cache
def _sdk_version() -> str:
    try:
        return importlib.metadata.version("typed-llm")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _text(value: BaseModel, field: str) -> str | None:
    found = getattr(value, field, None)
    return found if isinstance(found, str) else None


def encode_entry(
    value: BaseModel, *, now: float | None = None, request: dict[str, object] | None = None
) -> bytes:
    """The bytes every backend stores for the answer ``value`` (to ``request``, when given)."""
    provenance = Provenance(
        written_at=time.time() if now is None else now,
        model=_text(value, "model"),
        system_fingerprint=_text(value, "system_fingerprint"),
        request_id=_text(value, "request_id"),
        sdk_version=_sdk_version(),
        key_version=KEY_VERSION,
    )
    return b"".join(
        (
            _ENVELOPE,
            provenance.model_dump_json().encode(),
            b"" if request is None else b',"request":' + json.dumps(request, separators=(",", ":")).encode(),
            b',"response":',
            value.model_dump_json().encode(),
            b"}",
        )
    )


class _Answer(BaseModel, Generic[S]):
    """What a hit reads of an entry: the answer alone (the provenance and the request are skipped,
    not built into Python objects, which cost a hit as much as the answer itself)."""  # noqa: D205, D209

    model_config = ConfigDict(frozen=True, extra="ignore")

    response: S


@functools.cache
def _answer_type(kind: type[S]) -> type[_Answer[S]]:
    return _Answer[kind]  # type: ignore[valid-type]  # kind is a model class


def decode_answer(raw: bytes, kind: type[S]) -> S:
    """The answer stored in ``raw`` (``decode_entry`` without the provenance), for a cache hit.

    A copy of its own each time (the layers write the call's ledger and price tag on it). The same
    bytes read again (a hot entry: ``MemoryCache`` hands out the very object it holds, the other
    backends equal bytes) are not validated again: the answer is a pure function of the bytes and
    is frozen all the way down, so a shallow copy of the one decoded before is the same answer for
    a fifth of the cost. The memo is bounded (``DECODED_KEPT`` entries of at most
    ``DECODED_LONGEST`` bytes, oldest first out); a damaged entry is never kept.

    Raises:
        pydantic.ValidationError: the bytes are not such an entry (damaged, or another schema).
    """
    memo_key = (kind, raw)
    known = _decoded.get(memo_key)
    if known is not None:
        return cast("S", known.model_copy())  # kept under its class: an S
    if raw.startswith(_ENVELOPE):
        answer: _Answer[S] = _answer_type(kind).model_validate_json(raw)
        value = answer.response
    else:
        value = kind.model_validate_json(raw)
    if len(raw) <= DECODED_LONGEST:
        with _decoded_lock:
            if len(_decoded) >= DECODED_KEPT:
                del _decoded[next(iter(_decoded))]  # the oldest (dicts keep insertion order)
            _decoded[memo_key] = value
        return value.model_copy()  # the one kept is never handed out
    return value


DECODED_KEPT: Final = 128
"""Decoded answers remembered, per process (``decode_answer``)."""
DECODED_LONGEST: Final = 32_768
"""Bytes of the longest entry whose decoded answer is remembered."""
_decoded: dict[tuple[type[BaseModel], bytes], BaseModel] = {}
"""(the answer's class, the entry's bytes) -> the answer they decode to (of that class)."""
_decoded_lock = threading.Lock()


@functools.cache
def _entry_type(kind: type[S]) -> type[_Entry[S]]:
    """``_Entry[kind]``, made once per kind: pydantic's own lookup of it costs a tenth of a hit."""
    return _Entry[kind]  # type: ignore[valid-type]  # kind is a model class


def decode_entry(raw: bytes, kind: type[S]) -> tuple[S, Provenance | None]:
    """The answer stored in ``raw`` and its provenance (None for an entry older than the envelope).

    Raises:
        pydantic.ValidationError: the bytes are not such an entry (damaged, or another schema).
    """
    if raw.startswith(_ENVELOPE):
        entry = _entry_type(kind).model_validate_json(raw)
        return entry.response, entry.provenance
    return kind.model_validate_json(raw), None


def stored_request(raw: bytes) -> dict[str, object] | None:
    """The request a stored entry answered, as ``encode_entry`` wrote it (None if it has none)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    request = data.get("request") if isinstance(data, dict) else None
    return request if isinstance(request, dict) else None


def describe_entry(raw: bytes) -> tuple[str | None, float | None]:
    """``(model, written_at)`` of a stored entry, for invalidation and stats; ``(None, None)`` if unreadable.

    An entry older than the envelope has no ``written_at``; its model is the response's own.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    provenance = data.get("provenance")
    if isinstance(provenance, dict):
        model, written = provenance.get("model"), provenance.get("written_at")
        return (
            model if isinstance(model, str) else None,
            float(written) if isinstance(written, int | float) else None,
        )
    model = data.get("model")
    return (model if isinstance(model, str) else None), None


def _cutoff(older_than: datetime | timedelta | None) -> float | None:
    if older_than is None:
        return None
    if isinstance(older_than, timedelta):
        return time.time() - older_than.total_seconds()
    if older_than.tzinfo is None:
        raise ValueError("older_than must be an aware datetime (datetime.now(UTC) - ...) or a timedelta")
    return older_than.astimezone(UTC).timestamp()


def matches(raw: bytes, model: str | None, cutoff: float | None) -> bool:
    """Whether a stored entry is one ``invalidate(model=..., older_than=...)`` removes.

    An entry with no ``written_at`` (stored before provenance existed) counts as older than any cutoff.
    """
    found_model, written = describe_entry(raw)
    if model is not None and found_model != model:
        return False
    return cutoff is None or written is None or written < cutoff


def invalidation_cutoff(model: str | None, older_than: datetime | timedelta | None) -> float | None:
    """The instant ``older_than`` names (epoch seconds); refuses an ``invalidate`` with no condition."""
    if model is None and older_than is None:
        raise ValueError("invalidate needs model= or older_than= (clear() removes every entry)")
    return _cutoff(older_than)
