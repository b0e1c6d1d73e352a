"""Why a replayed request missed: the nearest recording, and what changed field by field.

A miss in replay is usually drift: a prompt or a parameter was edited. A text diff of two JSON
bodies on one line says little; this module reads both bodies back into the SDK's typed request
(``ChatRequest`` or ``EmbeddingRequest``, by the path) and lists the fields that differ, each with
its path in the request (``messages[1].content``, ``tools[0].function.parameters.properties.city``).
A body that does not validate into a typed request is compared as plain JSON data, then as text.
The nearest recording is the one of the same method and endpoint with the fewest changed fields.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final, Literal

import attrs
from pydantic import ValidationError

from typed_llm._models.requests import ChatRequest, EmbeddingRequest

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Change", "Nearest", "field_changes", "nearest", "render_value", "typed_view"]

View = tuple[str, object]
"""What a body is compared as (``ChatRequest``, ``EmbeddingRequest``, ``JSON`` or ``text``), and the data."""

_SHOWN: Final = 40
"""Characters of a value shown in a change line (long strings are cut around the first difference)."""
_CONTEXT: Final = 12
"""Characters shown before the first difference of two long strings."""


@attrs.frozen
class Change:
    """One field that differs between a recorded request and the request sent now."""

    path: str
    """Where in the request: ``messages[1].content``, ``temperature``, ``tools[0].function.name``."""
    kind: Literal["changed", "added", "removed"]
    """``added``: only the new request has it; ``removed``: only the recording has it."""
    old: object = None
    new: object = None

    def render(self) -> str:
        """``messages[1].content: 'Summarise…' → 'Summarize…'``, ``x added: 1``, ``x removed``."""
        if self.kind == "added":
            return f"{self.path} added: {render_value(self.new)}"
        if self.kind == "removed":
            return f"{self.path} removed (was {render_value(self.old)})"
        old, new = self.old, self.new
        if isinstance(old, str) and isinstance(new, str):
            return f"{self.path}: {_cut_pair(old, new)}"
        return f"{self.path}: {render_value(old)} → {render_value(new)}"


@attrs.frozen
class Nearest:
    """The recorded request closest to a missed one."""

    index: int
    """Its place in the cassette (0-based)."""
    kind: str
    """What both were compared as: ``ChatRequest``, ``EmbeddingRequest``, ``JSON`` or ``text``."""
    changes: tuple[Change, ...]
    """Recorded → sent now, field by field; empty when the same request was recorded but already played."""


def render_value(value: object) -> str:
    """A value as a reviewer reads it: strings quoted, data as compact JSON, cut to a line."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _cut_pair(old: str, new: str) -> str:
    if len(old) <= _SHOWN and len(new) <= _SHOWN:
        return f"{old!r} → {new!r}"
    common = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        common += 1
    start = max(0, common - _CONTEXT)

    def cut(text: str) -> str:
        part = text[start : start + _SHOWN]
        lead = "…" if start else ""
        tail = "…" if start + _SHOWN < len(text) else ""
        return f"'{lead}{part}{tail}'"

    return f"{cut(old)} → {cut(new)}"


def typed_view(path: str, body: bytes | str | None) -> View:
    """The body as the typed request of its endpoint (dumped without unset fields), else as JSON or text."""
    raw = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    model: type[ChatRequest | EmbeddingRequest] | None = None
    if path.endswith("/chat/completions"):
        model = ChatRequest
    elif path.endswith("/embeddings"):
        model = EmbeddingRequest
    if model is not None:
        try:
            typed = model.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            return model.__name__, typed.model_dump(mode="json", exclude_none=True, by_alias=True)
    try:
        return "JSON", json.loads(raw) if raw else None
    except ValueError:
        return "text", raw


def field_changes(old: object, new: object, path: str = "") -> list[Change]:
    """Every leaf that differs between ``old`` (recorded) and ``new`` (sent now), depth first."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in list(old) + [k for k in new if k not in old]:
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append(Change(where, "removed", old=old[key]))
            elif key not in old:
                changes.append(Change(where, "added", new=new[key]))
            else:
                changes.extend(field_changes(old[key], new[key], where))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index in range(max(len(old), len(new))):
            where = f"{path}[{index}]"
            if index >= len(new):
                changes.append(Change(where, "removed", old=old[index]))
            elif index >= len(old):
                changes.append(Change(where, "added", new=new[index]))
            else:
                changes.extend(field_changes(old[index], new[index], where))
        return changes
    if old == new and type(old) is type(new):
        return []
    return [Change(path or "(body)", "changed", old=old, new=new)]


def nearest(sent: View, recorded: Sequence[tuple[int, View]]) -> Nearest | None:
    """The candidate with the fewest changed fields (the first of equals), or None if there is none.

    Args:
        sent: the missed request, as ``typed_view`` reads it.
        recorded: (index in the cassette, view) of the recordings of the same method and endpoint.
    """
    best: Nearest | None = None
    for index, view in recorded:
        if view[0] != sent[0]:
            changes = [Change("(body)", "changed", old=view[1], new=sent[1])]
        else:
            changes = field_changes(view[1], sent[1])
        if best is None or len(changes) < len(best.changes):
            best = Nearest(index=index, kind=sent[0], changes=tuple(changes))
            if not changes:
                break
    return best
