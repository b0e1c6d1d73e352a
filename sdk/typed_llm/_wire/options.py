"""Per-call options: a call's own timeout, and the escape hatch for what the models do not cover yet.

Every verb (``complete``, ``parse``, ``stream``, ``embed``, ``respond``...) takes them as keywords,
as openai-python's do (``CallOptions``), and ``client.with_options(...)`` makes a client whose
every call has them. They travel with the call as one validated, frozen ``Options`` value (on the
pipeline's ``Call``), never in a context variable:

- ``timeout``: seconds each attempt of this call may take, instead of the client's;
- ``extra_headers``, ``extra_query``: sent with each attempt (after the client's own, so they win);
- ``extra_body``: keys added to the JSON body. A key the request model has a field for is refused
  (set the field: it is validated), and so is one the SDK sends itself (``stream``...): extra_body
  never silently replaces what the request says.

What decides the answer is part of the cache key: ``extra_body`` and ``extra_query`` are, headers
are not (SPEC section 6: headers never are; a header that changes the answer needs a cache of its
own). Log events name the options a call had, never their values.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Final, TypedDict

import attrs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

from typed_llm._cache.key import canonical_json
from typed_llm._json import JSONObject, JSONValue, refuse_lone_surrogates, thaw
from typed_llm._redaction import _SECRET_FIELDS, register_secret

if TYPE_CHECKING:
    from typed_llm._wire.operation import WireCall

__all__ = ["NO_OPTIONS", "CallOptions", "Options"]


class CallOptions(TypedDict, total=False):
    """The keyword options every verb takes (``client.complete(request, timeout=5, extra_body=...)``)."""

    timeout: float
    """Seconds each attempt of this call may take (connect, headers and body), instead of the client's."""
    extra_headers: Mapping[str, str]
    """Headers sent with the call, after the client's own (so they win); never in the cache key."""
    extra_query: Mapping[str, str]
    """Query parameters added to the URL; part of the cache key."""
    extra_body: Mapping[str, JSONValue]
    """Keys added to the JSON body, for API parameters the request models do not have yet; part of
    the cache key. A key the request model has a field for is refused."""


_TOKEN: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP header name (RFC 9110 token)."""
_VALUE: Final = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
"""A header value: no line break (a header that would start another header), no other control."""

SDK_KEYS: Final = frozenset({"stream", "stream_options", "encoding_format"})
"""Body keys the verbs set themselves (whether the answer streams; how vectors come back)."""
_CREDENTIAL_WORDS: Final = ("auth", "key", "token", "secret")
"""A header whose name has one of these carries a credential (``authorization``, ``x-api-key``...)."""


def _headers(value: Mapping[str, str]) -> Mapping[str, str]:
    for name, item in value.items():
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid HTTP header name")
        if not _VALUE.fullmatch(item):
            raise ValueError(f"the value of header {name!r} holds a line break or a control character")
        lowered = name.lower()
        if lowered in _SECRET_FIELDS or any(word in lowered for word in _CREDENTIAL_WORDS):
            register_secret(item)  # a credential: never in a log line, nor in a recorded cassette
    return MappingProxyType(dict(value))


def _query(value: Mapping[str, str]) -> Mapping[str, str]:
    refuse_lone_surrogates(dict(value), "extra_query")
    return MappingProxyType(dict(value))


def _json_body(value: Mapping[str, JSONValue]) -> Mapping[str, JSONValue]:
    refuse_lone_surrogates(value, "extra_body")
    try:
        json.dumps(thaw(value), allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"extra_body is not JSON the API can take: {exc}") from exc
    return value


def _nothing() -> Mapping[str, Any]:
    return MappingProxyType({})


def _finite(value: float | None) -> float | None:
    if value is not None and not 0 < value < math.inf:
        raise ValueError(f"timeout must be a positive, finite number of seconds, got {value!r}")
    return value


_Texts = Mapping[StrictStr, StrictStr]


class Options(BaseModel):
    """The options of one call, validated (a bad one is a ``pydantic.ValidationError``, nothing sent)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    timeout: Annotated[float | None, Field(strict=True), AfterValidator(_finite)] = None
    extra_headers: Annotated[_Texts, AfterValidator(_headers)] = Field(default_factory=_nothing)
    extra_query: Annotated[_Texts, AfterValidator(_query)] = Field(default_factory=_nothing)
    extra_body: Annotated[JSONObject, AfterValidator(_json_body)] = Field(default_factory=_nothing)

    @field_validator("timeout", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("timeout must be a number of seconds, not a bool")  # noqa: TRY004  (pydantic wants ValueError)
        return value

    @field_validator("extra_body")
    @classmethod
    def _not_a_field(cls, value: Mapping[str, JSONValue], info: ValidationInfo) -> Mapping[str, JSONValue]:
        context = info.context or {}
        fields, kind = context.get("fields", frozenset()), context.get("kind", "the request")
        for key in value:
            if key in SDK_KEYS:
                raise ValueError(f"extra_body sets {key!r}, which the SDK decides (to stream: stream())")
            if key in fields:
                raise ValueError(
                    f"extra_body sets {key!r}, a field of {kind}: set the field on the request instead "
                    "(it is validated there); extra_body is for parameters the models do not have yet"
                )
        return value

    @classmethod
    def of(cls, given: Mapping[str, object], request: BaseModel, defaults: Options) -> Options:
        """``defaults`` (the client's ``with_options``) with the call's own ``given`` options on top."""
        if not given and not defaults.extra_body:
            return defaults
        fields = frozenset(
            name
            for field, info in type(request).model_fields.items()
            for name in (field, info.alias or field)
        )
        merged: dict[str, object] = {
            "timeout": given.get("timeout", defaults.timeout),
            "extra_headers": _over(defaults.extra_headers, given.get("extra_headers")),
            "extra_query": _over(defaults.extra_query, given.get("extra_query")),
            "extra_body": _over(thaw_body(defaults.extra_body), given.get("extra_body")),
        }
        # a keyword no verb takes (from a caller without a type checker): refused by extra="forbid"
        merged.update({name: value for name, value in given.items() if name not in merged})
        return cls.model_validate(merged, context={"fields": fields, "kind": type(request).__name__})

    @property
    def keyed(self) -> bool:
        """Whether these options change the answer (so the cache key)."""
        return bool(self.extra_body or self.extra_query)

    def key(self, key: str) -> str:
        """The cache key of a call with these options, given the key of its request alone."""
        if not self.keyed:
            return key
        extra = {"key": key, "extra_body": thaw_body(self.extra_body), "extra_query": dict(self.extra_query)}
        return hashlib.sha256(canonical_json(extra)).hexdigest()

    def apply(self, wire: WireCall) -> WireCall:
        """``wire`` with the extra body keys, headers and query of these options.

        Raises:
            ValueError: an extra body key the built body already has (the SDK sends it itself).
        """
        if not (self.extra_body or self.extra_headers or self.extra_query):
            return wire
        body = wire.body
        if self.extra_body:
            sent = json.loads(body)
            clash = sorted(set(sent) & set(self.extra_body))
            if clash:
                raise ValueError(f"extra_body sets {clash[0]!r}, which the SDK already sends for this call")
            body = json.dumps({**sent, **thaw_body(self.extra_body)}, ensure_ascii=False).encode()
        return attrs.evolve(
            wire,
            body=body,
            headers={**wire.headers, **self.extra_headers},
            query={**wire.query, **self.extra_query},
        )

    def log_fields(self) -> dict[str, object]:
        """What log events say of these options: the names given, never a value."""
        fields: dict[str, object] = {}
        if self.timeout is not None:
            fields["timeout_s"] = self.timeout
        for name in ("extra_headers", "extra_query", "extra_body"):
            given: Mapping[str, object] = getattr(self, name)
            if given:
                fields[name] = sorted(given)
        return fields

    def as_kwargs(self) -> CallOptions:
        """The options as the keywords a verb takes (handed to a client that is not a pipeline)."""
        kwargs: CallOptions = {}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        if self.extra_headers:
            kwargs["extra_headers"] = self.extra_headers
        if self.extra_query:
            kwargs["extra_query"] = self.extra_query
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    @property
    def empty(self) -> bool:
        """Whether no option is set."""
        return not (self.timeout is not None or self.extra_headers or self.extra_query or self.extra_body)


def thaw_body(body: Mapping[str, JSONValue]) -> dict[str, object]:
    """A frozen extra body as plain dicts and lists."""
    return {key: thaw(value) for key, value in body.items()}


def _over(defaults: Mapping[str, object], given: object) -> object:
    """``given`` on top of ``defaults``; a value that is not a mapping is left for validation to refuse."""
    if given is None:
        return defaults
    if not isinstance(given, Mapping):
        return given
    return {**defaults, **given}


NO_OPTIONS: Final = Options()
"""A call with no options of its own (the default of every client)."""
