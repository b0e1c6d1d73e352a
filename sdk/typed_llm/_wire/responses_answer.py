"""The Responses API's answer on the wire: the typed ``Response``, its failures, what is logged of it.

Pure translation, no I/O, shared by the whole call (``responses``) and the stream
(``responses_stream``). A 200 whose ``status`` is ``failed`` is a ``ResponseFailedError``; an item
of a type newer than this SDK is kept (``UnknownOutputItem``) and logged once per process.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from typed_llm._errors import ResponseFailedError
from typed_llm._logging import emit
from typed_llm._models.responses_api import Response, UnknownOutputItem
from typed_llm._wire.status import malformed, parse_model

if TYPE_CHECKING:
    from typed_llm._wire.operation import RawResponse

__all__ = ["failed_error", "parse_response", "report_once", "report_unknown_items", "storable", "summary"]

_REPORTED: set[tuple[str, str]] = set()
_REPORTED_AT_MOST: Final = 256


def report_once(event: str, field: str, value: str, **fields: object) -> None:
    """Log, once per process and value, something newer than this SDK (it is kept, not dropped)."""
    key = (field, value)
    if key in _REPORTED:
        return
    if len(_REPORTED) < _REPORTED_AT_MOST:
        _REPORTED.add(key)
    emit(logging.WARNING, event, field=field, value=value, **fields)


def report_unknown_items(response: Response) -> None:
    """Log each output item type this SDK does not know (once per type)."""
    for item in response.output:
        if isinstance(item, UnknownOutputItem):
            report_once(
                "unknown_value",
                "output.type",
                item.type,
                model=response.model,
                request_id=response.request_id,
            )


def failed_error(response: Response) -> ResponseFailedError:
    """The error a ``failed`` response is: the server's code and message, the answer attached."""
    error = response.error
    message = error.message if error is not None and error.message else "the response failed"
    return ResponseFailedError(
        f"the response failed: {message}",
        code=error.code if error is not None else None,
        response=response,
        request_id=response.request_id,
    )


def parse_response(raw: RawResponse) -> Response:
    """The typed answer in ``raw``.

    Raises:
        MalformedResponseError: the body is not JSON or not a response.
        ResponseFailedError: the response's ``status`` is ``failed``.
    """
    response = parse_model(Response, raw)
    if response.object != "response":
        raise malformed(raw, f"object is {response.object!r}, not 'response'")
    report_unknown_items(response)
    if response.status == "failed":
        raise failed_error(response)
    return response


def summary(response: Response) -> dict[str, object]:
    """What the ``response`` log event says of an answer."""
    usage = response.usage
    return {
        "request_id": response.request_id,
        "response_model": response.model,
        "prompt_tokens": usage.input_tokens if usage else None,
        "completion_tokens": usage.output_tokens if usage else None,
        "cached_tokens": usage.cached_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
        "status": response.status,
        "output_types": [item.type for item in response.output],
    }


def storable(response: Response) -> bool:
    """Whether the cache may keep ``response``: not one a content filter cut short.

    A call that builds on server state (``previous_response_id``, ``conversation``) never reaches
    the cache at all: ``CachePolicy`` decides that from the request, before any lookup.
    """
    details = response.incomplete_details
    return details is None or details.reason != "content_filter"
