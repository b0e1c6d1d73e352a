"""Immutable JSON values, for the parts of a request that are free-form JSON (schemas, metadata).

A JSON object given as a dict is validated into a read-only ``MappingProxyType`` whose nested arrays are
tuples, so a frozen model that holds a schema cannot be changed through it either. Dumping gives plain
dicts and lists back, so the wire form is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Final, TypeAlias, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType
from typing_extensions import TypeAliasType

__all__ = ["CheckedJSONObject", "JSONObject", "JSONValue", "Text", "readable", "refuse_lone_surrogates"]

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
        problem = _surrogate_problem(value, where)
        if problem is not None:
            raise ValueError(problem)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_lone_surrogates(key, where)
            refuse_lone_surrogates(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            refuse_lone_surrogates(item, f"{where}.{index}" if where else str(index))


def _surrogate_problem(text: str, where: str = "") -> str | None:
    found = _SURROGATE.search(text)
    if found is None:
        return None
    at = f" (at {where})" if where else ""
    return (
        f"text{at} holds a lone surrogate (U+{ord(found.group()):04X}) at index {found.start()}, "
        "which UTF-8 cannot encode"
    )


def _encodable_object(value: Mapping[str, JSONValue]) -> Mapping[str, JSONValue]:
    refuse_lone_surrogates(value)
    return value


Text: TypeAlias = Annotated[str, StringConstraints(strict=True, min_length=0)]
"""A strict string of a request: one UTF-8 can encode.

A string with a constraint is read by pydantic's core as UTF-8, so a lone surrogate in it is refused
while it validates (``string_unicode``), for nothing: no Python validator runs per field. The request
models turn that error into the SDK's own, with the position (``readable``)."""

CheckedJSONObject: TypeAlias = Annotated[JSONObject, AfterValidator(_encodable_object)]
"""A request's free-form JSON object (a schema, tool parameters), every text in it one UTF-8 can encode
(a JSON value's strings are not constrained: a union of them would report every branch)."""

_KNOWN_TYPES: Final = frozenset(get_args(ErrorType))
_BRANCH: Final = re.compile(r"\[|^(str|constrained-str|int|float|bool|none)$|^[A-Z][A-Za-z0-9_]*$")
"""What pydantic names a union's member by in an error's path (``constrained-str``, ``tuple[...]``,
``literal[...]``, a model class): not a field name, a list index, a key or a discriminator's tag."""


def readable(exc: ValidationError) -> ValidationError:
    """``exc`` with each lone surrogate pydantic's core refused said as the SDK says it.

    The error becomes a ``value_error`` naming the position (``refuse_lone_surrogates``' message) at
    the field's path; the other members of a union the text was tried against (``str | tuple[...]``,
    ``str | Literal[...]``), which failed only because the text was not theirs, are left out. Any other
    error is kept as it was. ``exc`` itself when it holds no such error.
    """
    errors = exc.errors(include_url=False)
    if not any(error["type"] == "string_unicode" for error in errors):
        return exc
    details, unions = _surrogate_details(errors)
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] != "string_unicode" and not any(loc[: len(union)] == union for union in unions):
            details.append(_as_it_was(error, loc))
    return ValidationError.from_exception_data(exc.title, details)


def _surrogate_details(
    errors: list[ErrorDetails],
) -> tuple[list[InitErrorDetails], list[tuple[int | str, ...]]]:
    """The SDK's error for each refused text (one per place), and the paths of the unions tried."""
    details: list[InitErrorDetails] = []
    places: set[tuple[int | str, ...]] = set()
    unions: list[tuple[int | str, ...]] = []
    for error in errors:
        if error["type"] != "string_unicode":
            continue
        loc = tuple(error["loc"])
        branch = next(
            (i for i, part in enumerate(loc) if isinstance(part, str) and _BRANCH.search(part)), None
        )
        if branch is not None:
            unions.append(loc[:branch])
        last = loc[-1] if loc else None
        if isinstance(last, str) and (last in {"str", "constrained-str"} or last.startswith("literal[")):
            loc = loc[:-1]
        if loc in places:
            continue
        places.add(loc)
        text = error["input"]
        problem = _surrogate_problem(text) if isinstance(text, str) else None
        error_ctx = {"error": ValueError(problem or "text UTF-8 cannot encode")}
        details.append({"type": "value_error", "loc": loc, "input": text, "ctx": error_ctx})
    return details, unions


def _as_it_was(error: ErrorDetails, loc: tuple[int | str, ...]) -> InitErrorDetails:
    kind = error["type"]
    if kind not in _KNOWN_TYPES:  # a custom error of the SDK's own (stream_is_the_verb): its message
        custom = PydanticCustomError(kind, error["msg"])
        return {"type": custom, "loc": loc, "input": error["input"]}
    detail: InitErrorDetails = {"type": cast("ErrorType", kind), "loc": loc, "input": error["input"]}
    ctx = error.get("ctx")
    if ctx:
        detail["ctx"] = ctx
    return detail
