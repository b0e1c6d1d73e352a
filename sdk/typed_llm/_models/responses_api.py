"""The OpenAI Responses API (``POST /v1/responses``), typed: the answer and its output items.

``ResponsesRequest`` is frozen and validated before anything is sent; its field names are the
wire's, so ``ResponsesRequest.model_validate(body)`` takes a recorded request body. ``Response``
reads an answer: ``output`` is a discriminated union of typed items, and an item of a type this SDK
does not know is an ``UnknownOutputItem`` that keeps its JSON whole (it is never dropped and never
fails the call). Output items can be sent back as input as they are (reasoning items with their
``encrypted_content``), which is what ``ResponsesRequest.next_turn`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Final, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from typed_llm._cost import BilledTokens, Priced, utc_time
from typed_llm._errors import NoTextError, RefusalError
from typed_llm._json import JSONObject
from typed_llm._ledger import Attempt, CallFacts
from typed_llm._models.http import WithHTTP
from typed_llm._models.messages import FunctionCall, ToolCall

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "OutputItem",
    "OutputMessage",
    "OutputRefusal",
    "OutputText",
    "ParsedResponse",
    "ReasoningItem",
    "Response",
    "ResponseCustomToolCall",
    "ResponseFunctionCall",
    "ResponseUsage",
    "UnknownOutputItem",
    "WebSearchCall",
]

T = TypeVar("T", bound=BaseModel)


class _Answer(BaseModel):
    # As for chat answers: a key newer than this SDK is kept in ``model_extra`` and dumped again.
    model_config = ConfigDict(frozen=True, extra="allow")


def _unknown_only(kind: str, known: frozenset[str]) -> str:
    """``kind``, refused when it is a type the SDK reads into a class of its own."""
    if kind in known:
        raise ValueError(f"{kind!r} is a known type: it does not fit its class")
    return kind


def type_of(value: object) -> str | None:
    if isinstance(value, Mapping):
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) else None


# --- output: what an answer holds ------------------------------------------------------------------


class OutputText(_Answer):
    """Text the model wrote, with its annotations (citations: ``url_citation``, ``file_citation``...)."""

    type: Literal["output_text"] = "output_text"
    text: str
    annotations: tuple[JSONObject, ...] = ()


class OutputRefusal(_Answer):
    """The model's refusal, in place of text."""

    type: Literal["refusal"] = "refusal"
    refusal: str


PART_TAGS: Final = frozenset({"output_text", "refusal"})


class _UnknownPart(_Answer):
    type: str

    @field_validator("type")
    @classmethod
    def _not_known(cls, kind: str) -> str:
        return _unknown_only(kind, PART_TAGS)


OutputContent = Annotated[
    Annotated[OutputText | OutputRefusal, Field(discriminator="type")] | _UnknownPart,
    Field(union_mode="left_to_right"),
]
"""A message's content part (an unknown type kept whole). Read from JSON in pydantic's core: the
known parts by their ``type``, then anything else (a callable discriminator would have pydantic
build every part as Python objects first, to hand it to the function)."""


class OutputMessage(_Answer):
    """An assistant message: ``output_text`` and ``refusal`` parts."""

    type: Literal["message"] = "message"
    id: str
    role: Literal["assistant"] = "assistant"
    status: str | None = None
    content: tuple[OutputContent, ...] = ()


class ResponseFunctionCall(_Answer):
    """A call of a function tool; answer it with ``FunctionCallOutput(call_id=..., output=...)``."""

    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    """The arguments as the model wrote them: JSON text (``TypedTool.parse(call.as_tool_call())``)."""
    status: str | None = None

    def as_tool_call(self) -> ToolCall:
        """This call in the chat API's shape, for ``TypedTool.parse``."""
        return ToolCall(id=self.call_id, function=FunctionCall(name=self.name, arguments=self.arguments))


class SummaryText(_Answer):
    """One part of a reasoning summary."""

    type: Literal["summary_text"] = "summary_text"
    text: str


class ReasoningItem(_Answer):
    """The model's reasoning: its summary, and its encrypted content when asked for.

    ``include=["reasoning.encrypted_content"]`` asks for it; a ``store=False`` conversation needs it.
    """

    type: Literal["reasoning"] = "reasoning"
    id: str
    summary: tuple[SummaryText, ...] = ()
    encrypted_content: str | None = None
    status: str | None = None


class WebSearchCall(_Answer):
    """A ``web_search`` tool call the server made (its ``action`` is kept as sent)."""

    type: Literal["web_search_call"] = "web_search_call"
    id: str
    status: str | None = None
    action: JSONObject | None = None


class ResponseCustomToolCall(_Answer):
    """A call of a custom tool: free-form ``input`` text."""

    type: Literal["custom_tool_call"] = "custom_tool_call"
    id: str | None = None
    call_id: str
    name: str
    input: str


OUTPUT_TAGS: Final = frozenset(
    {"message", "function_call", "reasoning", "web_search_call", "custom_tool_call"}
)


class UnknownOutputItem(_Answer):
    """An output item of a type this SDK does not know: its JSON, whole (``model_dump()``).

    A known ``type`` is refused: such an item is the typed class or, if it does not fit it, an error.
    """

    type: str

    @field_validator("type")
    @classmethod
    def _not_known(cls, kind: str) -> str:
        return _unknown_only(kind, OUTPUT_TAGS)


OutputItem = Annotated[
    Annotated[
        OutputMessage | ResponseFunctionCall | ReasoningItem | WebSearchCall | ResponseCustomToolCall,
        Field(discriminator="type"),
    ]
    | UnknownOutputItem,
    Field(union_mode="left_to_right"),
]
"""Every item an answer's ``output`` holds; narrow it with ``match`` or ``isinstance``.

Read in pydantic's core, from JSON: the known items by their ``type``, then anything else as an
``UnknownOutputItem`` (which refuses a known type, so an item that does not fit its class is an
error, not kept as unknown)."""


class InputTokensDetails(_Answer):
    cached_tokens: int = 0


class OutputTokensDetails(_Answer):
    reasoning_tokens: int = 0


class ResponseUsage(_Answer):
    """Token usage of a response."""

    input_tokens: int
    output_tokens: int
    """Tokens generated, reasoning tokens included."""
    total_tokens: int
    input_tokens_details: InputTokensDetails = InputTokensDetails()
    output_tokens_details: OutputTokensDetails = OutputTokensDetails()

    @property
    def cached_tokens(self) -> int:
        """Input tokens served from the prompt cache."""
        return self.input_tokens_details.cached_tokens

    @property
    def reasoning_tokens(self) -> int:
        """Output tokens spent reasoning."""
        return self.output_tokens_details.reasoning_tokens


class IncompleteDetails(_Answer):
    """Why a response stopped early: ``max_output_tokens`` or ``content_filter``."""

    reason: str | None = None


class ResponseErrorDetail(_Answer):
    """What went wrong with a ``failed`` response."""

    code: str | None = None
    message: str = ""


class Response(CallFacts, _Answer, Priced, WithHTTP):
    """An answer of the Responses API: ``cost`` what it cost (None if unknown), ``http`` its headers."""

    id: str
    object: Literal["response"] = "response"
    created_at: float
    status: str | None = None
    """``completed``, ``incomplete``, ``failed``, ``in_progress``, ``queued`` or ``cancelled``."""
    model: str
    output: tuple[OutputItem, ...] = ()
    usage: ResponseUsage | None = None
    incomplete_details: IncompleteDetails | None = None
    error: ResponseErrorDetail | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    request_id: str | None = None
    """The HTTP answer's ``x-request-id`` (not part of the body)."""
    attempts: tuple[Attempt, ...] = Field(default=(), exclude=True)
    """How this call went, attempt by attempt (``Attempt``): not part of the answer, so never
    cached nor compared."""

    def _billed_tokens(self) -> BilledTokens | None:
        usage = self.usage
        if usage is None:
            return None
        return BilledTokens(
            input=usage.input_tokens,
            cached_input=usage.cached_tokens,
            output=usage.output_tokens,
            reasoning=usage.reasoning_tokens,
        )

    def _priced_at(self) -> datetime | None:
        return utc_time(self.created_at)

    def _service_tier(self) -> str | None:
        tier = (self.model_extra or {}).get("service_tier")
        return tier if isinstance(tier, str) else None

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part, in order.

        Raises:
            RefusalError: the model refused and wrote no text (the refusal text is on the error).
            NoTextError: the answer has no text (it only called tools, or was cut off before any).
        """
        texts, refusals = [], []
        for item in self.output:
            if isinstance(item, OutputMessage):
                for part in item.content:
                    if isinstance(part, OutputText):
                        texts.append(part.text)
                    elif isinstance(part, OutputRefusal):
                        refusals.append(part.refusal)
        if texts:
            return "".join(texts)
        if refusals:
            raise RefusalError("".join(refusals), response=self)
        kinds = ", ".join(item.type for item in self.output) or "nothing"
        raise NoTextError(f"the response has no output text: its output holds {kinds}")

    @property
    def function_calls(self) -> tuple[ResponseFunctionCall, ...]:
        """The function calls in ``output``, in order."""
        return tuple(item for item in self.output if isinstance(item, ResponseFunctionCall))

    @property
    def reasoning(self) -> tuple[ReasoningItem, ...]:
        """The reasoning items in ``output``."""
        return tuple(item for item in self.output if isinstance(item, ReasoningItem))


class ParsedResponse(Response, Generic[T]):
    """A ``Response`` whose output text was validated into ``T`` (``parsed``)."""

    parsed: T
