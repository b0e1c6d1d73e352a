"""A replay-only cache's miss, explained as a cassette's is: the nearest stored request, field by field.

A cache filled once and then replayed (``CachePolicy(replay_only=True)``: a test suite or a demo
that must run offline) fails on a request it does not hold. A key is a digest: two keys that differ
say nothing of why. Each entry keeps the request it answered (``entry.stored_request``), so the miss
can name the stored request of the same type nearest to the one sent and list the typed fields that
changed (``messages[0].content: 'Summarise…' → 'Summarize…'``, ``namespace: ...`` when the provider
or deployment changed), with the same field diff a cassette miss uses (``testing/_diff.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from typed_llm._cache.base import Listing
from typed_llm._cache.entry import stored_request
from typed_llm._errors.replay import CacheMissError
from typed_llm._redaction import scrub_registered

if TYPE_CHECKING:
    from pydantic import BaseModel

    from typed_llm._cache.base import Cache

__all__ = ["RECORD_HINT", "miss_error", "request_record"]

RECORD_HINT: Final = (
    "call it once with a cache that is not replay-only (CachePolicy(replay_only=False)), "
    "which asks the API and stores the answer"
)
"""What fills a replay-only cache with the missing answer."""

_SHOWN: Final = 12
"""Changed fields listed; the rest are counted."""


def request_record(request: BaseModel, namespace: str) -> dict[str, object]:
    """What an entry keeps of the request it answered: its type, namespace and fields (as sent)."""
    return {
        "type": type(request).__name__,
        "namespace": namespace,
        "fields": request.model_dump(mode="json", exclude_none=True, by_alias=True),
    }


def _compared(record: dict[str, object]) -> dict[str, object]:
    fields = record.get("fields")
    return {"namespace": record.get("namespace"), **(fields if isinstance(fields, dict) else {})}


def _describe(cache: Cache, sent: dict[str, object], key: str) -> str:
    # A deferred import: testing's package brings in the fake and vcrpy, needed only on this path.
    from typed_llm.testing._diff import nearest  # noqa: PLC0415

    kind = str(sent["type"])
    fields = sent.get("fields")
    model = fields.get("model") if isinstance(fields, dict) else None
    head = f"{kind} model={model!r} (key {key[:12]}…)"
    if not isinstance(cache, Listing):
        return f"{head}\n  this cache cannot list its entries, so none was compared"
    stored = [record for raw in cache.stored_values() if (record := stored_request(raw)) is not None]
    same = [(i, record) for i, record in enumerate(stored) if record.get("type") == kind]
    candidates = [(i, (kind, _compared(record))) for i, record in same]
    found = nearest((kind, _compared(sent)), candidates)
    if found is None:
        return f"{head}\n  the cache holds no stored {kind} to compare with"
    place = next(number for number, (index, _) in enumerate(candidates, start=1) if index == found.index)
    if not found.changes:
        lines = [f"  the same request is stored (entry {place} of {len(candidates)}) but under another key"]
    else:
        title = f"  nearest stored request: entry {place} of {len(candidates)} {kind} entries;"
        lines = [f"{title} fields that changed (stored → sent):"]
        lines += [f"    {change.render()}" for change in found.changes[:_SHOWN]]
        if len(found.changes) > _SHOWN:
            lines.append(f"    … and {len(found.changes) - _SHOWN} more")
    return scrub_registered("\n".join([head, *lines]), "REDACTED")


def miss_error(cache: Cache, sent: dict[str, object], key: str) -> CacheMissError:
    """The typed error of a replay-only cache's miss on ``sent`` (a ``request_record``) under ``key``."""
    return CacheMissError(_describe(cache, sent, key), RECORD_HINT)
