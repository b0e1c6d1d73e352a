"""The fake's prompt token counts: what the SDK's own pre-flight count says, for the models it knows.

The pre-flight layer counts a request's prompt before sending and sets that count against the
``prompt_tokens`` (``input_tokens``) the answer reports, warning (``token_drift``) when they differ
by more than a tolerance. The real service agrees with the count (to within the estimates of
tools and schemas); a fake that counted words instead made every call with a ``json_schema`` or a
Responses input look like drift. So the fake reports the SDK's count for the models whose window
the SDK knows (the ones it counts), and the old word count for the others (an Azure deployment
name, a model it has never heard of) and for a body the SDK's models do not read.

Counting loads a tokenizer, so the counters are imported on first use: a process that only
imports the fake (``typed-llm demo`` replaying its recording) loads none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["chat_prompt_tokens", "responses_input_tokens"]


def _counted(body: Mapping[str, object], model: str, words: int, *, responses: bool) -> int:
    """The SDK's pre-flight count of ``body`` for ``model``, or ``words`` when it would not count it."""
    from typed_llm._window import model_limits  # noqa: PLC0415  (loads no tokenizer, but _tokens)

    if model_limits(model) is None:
        return words
    try:
        if responses:
            from typed_llm._models.responses_request import ResponsesRequest  # noqa: PLC0415  (see above)
            from typed_llm._tokens_responses import count_responses_tokens  # noqa: PLC0415

            return count_responses_tokens(ResponsesRequest.model_validate(body), model).value
        from typed_llm._models.requests import ChatRequest  # noqa: PLC0415  (see the module docstring)
        from typed_llm._tokens import count_request_tokens  # noqa: PLC0415

        return count_request_tokens(ChatRequest.model_validate(body), model).value
    except ValidationError:  # a body the SDK's models do not read
        return words


def chat_prompt_tokens(body: Mapping[str, object], model: str, words: int) -> int:
    """The prompt tokens of a chat request body, as ``count_request_tokens`` counts them.

    Args:
        body: the request's JSON body.
        model: the model it names.
        words: the fake's word count, answered when the SDK does not count this request.
    """
    return _counted(body, model, words, responses=False)


def responses_input_tokens(body: Mapping[str, object], model: str, words: int) -> int:
    """The input tokens of a Responses request body, as ``count_responses_tokens`` counts them.

    Args:
        body: the request's JSON body.
        model: the model it names.
        words: the fake's word count, answered when the SDK does not count this request.
    """
    return _counted(body, model, words, responses=True)
