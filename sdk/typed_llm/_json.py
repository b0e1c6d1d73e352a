"""Immutable JSON values, for the parts of a request that are free-form JSON (schemas, metadata).

A JSON object given as a dict is validated into a read-only ``MappingProxyType`` whose nested arrays are
tuples, so a frozen model that holds a schema cannot be changed through it either. Dumping gives plain
dicts and lists back, so the wire form is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Final, TypeAlias

from pydantic import AfterValidator, BaseModel, PlainSerializer, StrictBool, StrictFloat, StrictInt, StrictStr
from typing_extensions import TypeAliasType

__all__ = ["JSONObject", "JSONValue", "refuse_lone_surrogates"]

JSONValue = TypeAliasType(
    "JSONValue",
    (
        "StrictBool | StrictInt | StrictFloat | StrictStr"
        " | tuple[JSONValue, ...] | Mapping[str, JSONValue] | None"
    ),
)
"""Any JSON value, with arrays as tuples and objects as read-only mappings.

Scalars are strict (``True`` is not ``1``, ``b"x"`` is not ``"x"``) so a value keeps the JSON type it was
given; arrays may be given as lists, as JSON loaded in Python has them.
"""


def _freeze(value: JSONValue) -> JSONValue:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _freeze_object(value: Mapping[str, JSONValue]) -> Mapping[str, JSONValue]:
    return MappingProxyType({key: _freeze(item) for key, item in value.items()})


def thaw(value: JSONValue) -> object:
    """Turn a frozen JSON value back into plain dicts and lists (what ``json.dumps`` takes)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


def _thaw_object(value: Mapping[str, JSONValue]) -> dict[str, object]:
    return {key: thaw(item) for key, item in value.items()}


JSONObject: TypeAlias = Annotated[
    Mapping[str, JSONValue],
    AfterValidator(_freeze_object),
    PlainSerializer(_thaw_object),
]
"""A JSON object, read-only once validated; dumps as a plain dict."""


_SURROGATE = re.compile("[\ud800-\udfff]")
_NO_TEXT: Final = frozenset({int, float, bool, type(None)})


def refuse_lone_surrogates(value: object, where: str = "") -> None:
    r"""Refuse a string (anywhere inside ``value``) that holds a lone surrogate code point.

    Python strings may hold ``"\ud800"`` on its own (from ``surrogateescape``, a bad ``\u`` escape, a
    JSON decoder that let one through); UTF-8 cannot encode it, so such a request could never be
    sent, cached or logged. Refusing it at validation names the field instead of failing later.

    Raises:
        ValueError: with the position of the first surrogate (and the key path inside a mapping).
    """
    if value.__class__ in _NO_TEXT or isinstance(value, BaseModel):
        return  # most of a request's fields; a model was checked field by field when it was built
    if isinstance(value, str):
        if value.isascii():  # no surrogate in it, and the common case: no search
            return
        found = _SURROGATE.search(value)
        if found is not None:
            at = f" (at {where})" if where else ""
            raise ValueError(
                f"text{at} holds a lone surrogate (U+{ord(found.group()):04X}) at index {found.start()}, "
                "which UTF-8 cannot encode"
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_lone_surrogates(key, where)
            refuse_lone_surrogates(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            refuse_lone_surrogates(item, f"{where}.{index}" if where else str(index))
