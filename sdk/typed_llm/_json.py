"""Immutable JSON values, for the parts of a request that are free-form JSON (schemas, metadata).

A JSON object given as a dict is validated into a read-only ``MappingProxyType`` whose nested arrays are
tuples, so a frozen model that holds a schema cannot be changed through it either. Dumping gives plain
dicts and lists back, so the wire form is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, TypeAlias

from pydantic import AfterValidator, PlainSerializer
from typing_extensions import TypeAliasType

__all__ = ["JSONObject", "JSONValue"]

JSONValue = TypeAliasType(
    "JSONValue",
    "bool | int | float | str | tuple[JSONValue, ...] | Mapping[str, JSONValue] | None",
)
"""Any JSON value, with arrays as tuples and objects as read-only mappings."""


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
