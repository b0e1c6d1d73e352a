"""What the HTTP exchange behind a successful answer said: ``response.http``.

openai-python users read rate-limit headers and the processing time through
``with_raw_response``; here every answer that came over HTTP carries them as a typed, frozen
``HTTPInfo`` (status code, headers, request id), with no second request.

``http`` is deliberately *not* a pydantic field: it is not part of the API's JSON, so it is never in
``model_dump()`` nor in a cached entry, and two answers that say the same thing compare equal
whichever exchange carried them (pydantic compares fields only). It is kept in the instance's
``__dict__`` beside the fields, so ``model_copy`` and pickling carry it; building a response from
JSON (a cache hit) gives one whose ``http`` is None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Final, TypeVar

import attrs

__all__ = ["HTTPInfo", "ResponseHeaders", "WithHTTP", "attach_answer", "attach_http"]

M = TypeVar("M")

_SLOT: Final = "http"
"""The ``__dict__`` key that holds an answer's ``HTTPInfo`` (no field has this name)."""


class ResponseHeaders(Mapping[str, str]):
    """An answer's headers: immutable, names lower-cased, looked up case-insensitively.

    A header sent more than once is one entry, its values joined with ``", "`` (as httpx does).
    """

    __slots__ = ("_read", "_source")

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        # Read on first use: every answer carries its headers, few callers look at them, and
        # decoding an httpx header list costs a few microseconds of every call.
        self._source = headers
        self._read: dict[str, str] | None = None

    @property
    def _items(self) -> dict[str, str]:
        items = self._read
        if items is None:
            items = {}
            for name, value in (self._source or {}).items():
                key = str(name).lower()
                items[key] = f"{items[key]}, {value}" if key in items else str(value)
            self._read, self._source = items, None
        return items

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResponseHeaders):
            return self._items == other._items
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"ResponseHeaders({self._items!r})"

    def __reduce__(self) -> tuple[type[ResponseHeaders], tuple[dict[str, str]]]:
        return (ResponseHeaders, (dict(self._items),))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    with contextlib.suppress(ValueError):
        return float(text)
    return None


def _count(text: str | None) -> int | None:
    number = _number(text)
    return int(number) if number is not None and number.is_integer() else None


@attrs.frozen
class HTTPInfo:
    """The status and headers of the HTTP answer a response came in.

    Attributes:
        status_code: the HTTP status (200 for every answer the SDK returns today).
        headers: every header of the answer, immutable, case-insensitive
            (``http.headers["x-ratelimit-remaining-tokens"]``).
    """

    status_code: int
    headers: ResponseHeaders = attrs.field(converter=ResponseHeaders)

    @property
    def request_id(self) -> str | None:
        """``x-request-id``, else Azure's ``apim-request-id`` (the same as ``response.request_id``)."""
        return self.headers.get("x-request-id") or self.headers.get("apim-request-id")

    @property
    def processing_ms(self) -> float | None:
        """``openai-processing-ms``: how long OpenAI's servers worked on the request (None on Azure)."""
        return _number(self.headers.get("openai-processing-ms"))

    @property
    def remaining_requests(self) -> int | None:
        """``x-ratelimit-remaining-requests``: requests left in the current window."""
        return _count(self.headers.get("x-ratelimit-remaining-requests"))

    @property
    def remaining_tokens(self) -> int | None:
        """``x-ratelimit-remaining-tokens``: tokens left in the current window."""
        return _count(self.headers.get("x-ratelimit-remaining-tokens"))

    @property
    def limit_requests(self) -> int | None:
        """``x-ratelimit-limit-requests``: requests allowed per window."""
        return _count(self.headers.get("x-ratelimit-limit-requests"))

    @property
    def limit_tokens(self) -> int | None:
        """``x-ratelimit-limit-tokens``: tokens allowed per window."""
        return _count(self.headers.get("x-ratelimit-limit-tokens"))


class WithHTTP:
    """Gives a response model its ``http`` property (a mixin of the response models)."""

    @property
    def http(self) -> HTTPInfo | None:
        """The HTTP answer this response came in; None when none did for this call (a cache hit).

        Not part of the response's JSON, of its equality nor of what the cache stores.
        """
        found = self.__dict__.get(_SLOT)
        if isinstance(found, tuple):  # as the transport left it: made into HTTPInfo when first asked for
            found = self.__dict__[_SLOT] = HTTPInfo(*found)
        return found if isinstance(found, HTTPInfo) else None


def attach_http(value: M, info: HTTPInfo | None) -> M:
    """``value`` (just built, not yet shared) carrying ``info`` as its ``http``; other values as they are."""
    if info is not None and isinstance(value, WithHTTP):
        value.__dict__[_SLOT] = info
    return value


def attach_answer(value: M, status_code: int, headers: Mapping[str, str]) -> M:
    """``attach_http(value, HTTPInfo(status_code, headers))``, the ``HTTPInfo`` built when first read.

    The transport attaches every answer's; few callers read it.
    """
    if isinstance(value, WithHTTP):
        value.__dict__[_SLOT] = (status_code, headers)
    return value
