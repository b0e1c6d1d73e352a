"""What every request model shares: a validating ``replace``, and the hint that streaming is a verb.

``model_copy(update=...)`` (pydantic's, and ``copy.replace`` through pydantic's ``__replace__``)
builds the copy without validating it, so ``request.model_copy(update={"temperature": 5})`` is a
request the API refuses. ``replace`` validates the changed copy as the constructor validates a new
one: the same ``pydantic.ValidationError`` for the same bad value, unknown names refused.

``stream=True`` given to a request's constructor (or to ``replace``) fails with a ``ValidationError``
of type ``stream_is_the_verb`` saying to call ``client.stream(request)``: which method is called
decides streaming, so the flag would be ignored. A recorded body with ``stream: true`` still
validates with ``model_validate``: replayed and logged requests carry it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Self

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from typed_llm._models.messages import _Frozen

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["STREAM_HINT"]

STREAM_HINT: Final = (
    "to stream, call client.stream(request) instead of passing stream=True: the method decides "
    "(complete() never streams, stream() always does)"
)
"""The message of the ``stream_is_the_verb`` validation error."""


def _refuse_stream_flag(model: type[_Request], data: Mapping[str, object]) -> None:
    if data.get("stream") is True and "stream" in model.model_fields:
        error = PydanticCustomError("stream_is_the_verb", STREAM_HINT)
        raise ValidationError.from_exception_data(
            model.__name__, [{"type": error, "loc": ("stream",), "input": True}]
        )


class _Request(_Frozen):
    """Base of the request models (``ChatRequest``, ``EmbeddingRequest``, ``ResponsesRequest``)."""

    if not TYPE_CHECKING:  # hidden from mypy, so pydantic's plugin still types the constructor

        def __init__(self, /, **data: object) -> None:
            _refuse_stream_flag(type(self), data)
            super().__init__(**data)

        # pydantic's own mark (RootModel's __init__ carries it too): an __init__ that validation
        # need not call, so model_validate (a recorded body) does not run the check above.
        __init__.__pydantic_base_init__ = True

    def _replaced(self, changes: Mapping[str, object]) -> Self:
        """A copy with ``changes``, validated whole; the fields given before stay given."""
        _refuse_stream_flag(type(self), changes)
        kept = {name: getattr(self, name) for name in self.model_fields_set if name not in changes}
        return self.model_validate({**kept, **changes}, by_alias=False, by_name=True)

    def __replace__(self, **changes: object) -> Self:
        """``copy.replace(request, ...)`` (Python 3.13) validates, as ``replace`` does."""
        return self._replaced(changes)
