"""Response models: what the API answered, parsed from its JSON into frozen, typed values.

Response models keep keys they do not know in ``model_extra`` (the API adds fields often; an old SDK
must keep parsing new answers, and lose nothing of them) but every field they declare is checked.
Azure's additions (prompt and completion filter results) are typed too, so a filtered completion is
visible as data, not as a missing text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Final, Generic, Literal, Self, TypeVar, get_args

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from typed_llm._cost import BilledTokens, Priced, utc_time
from typed_llm._errors import ContentFilterError, NoTextError, RefusalError
from typed_llm._ledger import Attempt, CallFacts
from typed_llm._models.http import WithHTTP
from typed_llm._models.logprobs import ChoiceLogprobs
from typed_llm._models.messages import AnyToolCall, AssistantAudio, AssistantMessage, FunctionCall

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "Annotation",
    "AnyFinishReason",
    "ChatResponse",
    "Choice",
    "CompletionTokensDetails",
    "ContentFilterResult",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "FinishReason",
    "ParsedChatResponse",
    "PromptFilterResult",
    "PromptTokensDetails",
    "ResponseAudio",
    "ResponseMessage",
    "URLCitation",
    "UnknownFinishReason",
    "Usage",
    "content_filter_results",
]

T = TypeVar("T")

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]
"""Why the model stopped: natural end, token limit, tool calls, content filter, legacy function call."""

KNOWN_FINISH_REASONS: Final[frozenset[str]] = frozenset(get_args(FinishReason))


class UnknownFinishReason(str):
    """A ``finish_reason`` this version of the SDK does not know, kept as the server sent it.

    The API adds values (``"content_filter"`` came late, gateways send their own): a new one must not
    cost the caller the answer. It is a ``str``, so it compares, logs and dumps as the server's text,
    and a distinct type, so code that matches on ``FinishReason`` sees it as the case it must handle::

        match choice.finish_reason:
            case "stop" | "length" | "tool_calls" | "content_filter" | "function_call":
                ...
            case UnknownFinishReason():
                ...
            case None:  # the server sent null
                ...
    """

    __slots__ = ()


def _keep_unknown_finish_reason(raw: object) -> object:
    if type(raw) is str and raw not in KNOWN_FINISH_REASONS:
        return UnknownFinishReason(raw)
    return raw


AnyFinishReason = Annotated[
    FinishReason | InstanceOf[UnknownFinishReason],
    BeforeValidator(_keep_unknown_finish_reason),
    PlainSerializer(str),
]
"""A known ``FinishReason``, or an ``UnknownFinishReason`` holding the server's new value."""


class _Answer(BaseModel):
    # extra="allow": a key newer than this SDK is kept (``model_extra``) and dumped again, so a cached
    # answer reads back whole; every documented key is a typed field.
    model_config = ConfigDict(frozen=True, extra="allow")


class ContentFilterResult(_Answer):
    """Azure's verdict on one content category (``hate``, ``self_harm``, ``jailbreak``...)."""

    category: str
    """The category's name as Azure gives it."""
    filtered: bool
    """Whether the content was blocked for this category."""
    severity: str | None = None
    """``safe``, ``low``, ``medium`` or ``high``, for severity-graded categories."""
    detected: bool | None = None
    """For detection categories (jailbreak, protected material): whether it was found."""

    @property
    def flagged(self) -> bool:
        """Whether this category fired (blocked, or detected)."""
        return self.filtered or bool(self.detected)


def content_filter_results(raw: object) -> tuple[ContentFilterResult, ...]:
    """Azure's ``content_filter_results`` object as a tuple of typed verdicts, sorted by category.

    Entries that are not a verdict (``error``, blocklist detail lists) are left out; a missing
    object gives an empty tuple.
    """
    if not isinstance(raw, Mapping):
        return ()
    # Lenient on purpose: a verdict of an unexpected shape must not turn a good completion (or
    # a typed filter error) into a parsing failure.
    results = [
        ContentFilterResult(
            category=str(category),
            filtered=verdict.get("filtered") is True,
            severity=None if verdict.get("severity") is None else str(verdict.get("severity")),
            detected=verdict.get("detected") if isinstance(verdict.get("detected"), bool) else None,
        )
        for category, verdict in raw.items()
        if isinstance(verdict, Mapping) and "filtered" in verdict
    ]
    return tuple(sorted(results, key=lambda result: result.category))


def _filter_results_or_wire(raw: object) -> object:
    # Built from the wire (a JSON object), from already typed verdicts (a tuple), or read back
    # from the SDK's own dump (a list of verdicts: a cached answer keeps them).
    if isinstance(raw, tuple | list):
        return raw
    return content_filter_results(raw)


_FilterResults = Annotated[tuple[ContentFilterResult, ...], BeforeValidator(_filter_results_or_wire)]


class PromptFilterResult(_Answer):
    """Azure's filter verdicts on one prompt of the request."""

    prompt_index: int
    """Which prompt (0 for chat)."""
    content_filter_results: _FilterResults = ()
    """The verdict per category."""


class PromptTokensDetails(_Answer):
    """Where the prompt's tokens went; each None when the API did not report it."""

    cached_tokens: int | None = None
    """Served from the prompt cache."""
    cache_write_tokens: int | None = None
    """Written to the prompt cache by this request."""
    audio_tokens: int | None = None
    """Audio input."""
    image_tokens: int | None = None
    """Image input."""
    text_tokens: int | None = None
    """Text input."""


class CompletionTokensDetails(_Answer):
    """Where the completion's tokens went; each None when the API did not report it."""

    reasoning_tokens: int | None = None
    """Spent reasoning (not in the visible answer)."""
    audio_tokens: int | None = None
    """Audio output."""
    accepted_prediction_tokens: int | None = None
    """Tokens of a Predicted Output that appeared in the completion."""
    rejected_prediction_tokens: int | None = None
    """Tokens of a Predicted Output that did not appear (billed as completion tokens all the same)."""
    text_tokens: int | None = None
    """Text output."""


class Usage(_Answer):
    """Token usage of a chat completion."""

    prompt_tokens: int
    """Tokens in the prompt."""
    completion_tokens: int
    """Tokens generated, reasoning tokens included."""
    total_tokens: int
    """Prompt plus completion."""
    cached_tokens: int | None = None
    """Prompt tokens served from the prompt cache; None when the API did not report it."""
    reasoning_tokens: int | None = None
    """Completion tokens spent reasoning; None when the API did not report it."""
    prompt_tokens_details: PromptTokensDetails | None = None
    """Every detail count of the prompt, as the API reported it."""
    completion_tokens_details: CompletionTokensDetails | None = None
    """Every detail count of the completion, as the API reported it."""

    @model_validator(mode="after")
    def _flatten_details(self) -> Self:
        # The wire nests the detail counts; flatten the two that matter to callers. (After
        # validation: a "before" validator makes pydantic build the whole body as Python objects
        # first, which costs more than the rest of parsing an answer.)
        given = self.model_fields_set
        if "cached_tokens" in given or "reasoning_tokens" in given:
            return self
        prompt, completion = self.prompt_tokens_details, self.completion_tokens_details
        if prompt is not None:
            vars(self)["cached_tokens"] = prompt.cached_tokens
            given.add("cached_tokens")
        if completion is not None:
            vars(self)["reasoning_tokens"] = completion.reasoning_tokens
            given.add("reasoning_tokens")
        return self


_CALL_KEYS: Final = {"function": {"name", "arguments"}, "custom": {"name", "input"}}


def _known_tool_call_keys(raw: object) -> object:
    # The request-side tool calls refuse unknown keys (they are sent back as they are); answers may
    # carry more (an "index", new fields), which are dropped here rather than failing the completion.
    if not isinstance(raw, list | tuple):
        return raw
    calls = []
    for call in raw:
        if isinstance(call, Mapping):
            kind = call.get("type", "function")
            body = call.get(kind) if isinstance(kind, str) else None
            keys = _CALL_KEYS.get(kind, set()) if isinstance(kind, str) else set()
            if isinstance(body, Mapping) and keys:
                body = {k: v for k, v in body.items() if k in keys}
            call = {k: v for k, v in call.items() if k in {"id", "type"}} | (  # noqa: PLW2901
                {kind: body} if isinstance(kind, str) and kind in _CALL_KEYS else {}
            )
        calls.append(call)
    return calls


class URLCitation(_Answer):
    """A web page the answer cites (web search models)."""

    start_index: int
    """Index of the first character of the citing text in ``content``."""
    end_index: int
    """Index just past the last character of the citing text."""
    title: str
    """The page's title."""
    url: str
    """The page's URL."""


class Annotation(_Answer):
    """A note on the answer's text; ``url_citation`` the one type documented today (others kept whole)."""

    type: str
    """``url_citation``, or a newer kind (its fields are in ``model_extra``)."""
    url_citation: URLCitation | None = None
    """The citation, for ``type == "url_citation"``."""


class ResponseAudio(_Answer):
    """Audio the model spoke (``modalities: ["text", "audio"]``)."""

    id: str
    """Id to send back in a later assistant message's ``audio`` instead of the data."""
    data: str
    """Base64 audio bytes in the requested format."""
    expires_at: int
    """Unix time after which the id can no longer be sent back."""
    transcript: str
    """What the audio says."""


def _is_none(value: object) -> bool:
    return value is None


class ResponseMessage(_Answer):
    """The message a choice carries."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    """The text; None when the model only called tools, refused, or was filtered."""
    refusal: str | None = None
    """The refusal text, when the model refused."""
    tool_calls: Annotated[tuple[AnyToolCall, ...] | None, BeforeValidator(_known_tool_call_keys)] = None
    """Tool calls the model made: function calls (``ToolCall``) and custom tool calls (``CustomToolCall``)."""
    # Left out of a dump when absent, so the message's dict keeps the seed's four keys
    # (``openai_utils.send_message`` returns it) unless the answer had them.
    annotations: tuple[Annotation, ...] | None = Field(default=None, exclude_if=_is_none)
    """Notes on the text, such as the web pages it cites."""
    audio: ResponseAudio | None = Field(default=None, exclude_if=_is_none)
    """The spoken answer, when audio output was asked for."""
    function_call: FunctionCall | None = Field(default=None, exclude_if=_is_none)
    """Deprecated: the legacy single function call (``functions`` in the request)."""

    def to_message(self) -> AssistantMessage:
        """This answer as the next request's ``AssistantMessage``: the tool loop's step.

        Content, refusal, tool calls, annotations, the audio's id and a legacy function call go
        back as the API sent them, so ``(*request.messages, message.to_message(), ToolMessage(...))``
        is the conversation the API expects (the wire body repeats the answer's JSON).

        Raises:
            pydantic.ValidationError: the answer holds nothing to send back (a completion Azure's
                filter stopped before any text).
        """
        annotations = self.annotations
        return AssistantMessage(
            content=self.content,
            refusal=self.refusal,
            tool_calls=self.tool_calls or None,
            audio=AssistantAudio(id=self.audio.id) if self.audio is not None else None,
            annotations=(
                None
                if annotations is None
                else tuple(a.model_dump(mode="json", exclude_none=True) for a in annotations)
            ),
            function_call=self.function_call,
        )


_NO_MESSAGE: Final = ResponseMessage(role="assistant")
"""The message of a choice the content filter stopped with none (frozen: one serves all)."""


class Choice(_Answer):
    """One generated answer."""

    index: int
    """Position among the ``n`` choices."""
    message: ResponseMessage = _NO_MESSAGE
    """The answer (required, unless the content filter stopped the completion: then it may be empty)."""
    finish_reason: AnyFinishReason | None
    """Why generation stopped: a known ``FinishReason``, an ``UnknownFinishReason`` (a value newer
    than this SDK, logged once as ``unknown_value``), or None when the server sent null."""
    content_filter_results: _FilterResults = ()
    """Azure only: the filter's verdict on this completion, per category."""
    logprobs: ChoiceLogprobs | None = None
    """The tokens' log probabilities, when the request asked for them (``logprobs=True``)."""

    def to_message(self) -> AssistantMessage:
        """The answer as the next request's ``AssistantMessage`` (see ``ResponseMessage.to_message``)."""
        return self.message.to_message()

    @model_validator(mode="after")
    def _filtered_without_message(self) -> Self:
        # Azure stops a completion its filter caught with no "message" at all: the verdicts are the
        # answer, and ``.text`` raises ContentFilterError with them. Any other choice needs its message.
        if "message" not in self.model_fields_set:
            if self.finish_reason != "content_filter":  # pydantic's own error, at the field's place
                raise ValidationError.from_exception_data(
                    "Choice", [{"type": "missing", "loc": ("message",), "input": {}}]
                )
            self.model_fields_set.add("message")  # as the empty message the answer stands for
        return self


class _HasRequestId(CallFacts, _Answer, WithHTTP):
    request_id: str | None = None
    """``x-request-id`` (or Azure's ``apim-request-id``) of the answer; not part of the API's body."""
    attempts: tuple[Attempt, ...] = Field(default=(), exclude=True)
    """How this call went, attempt by attempt (``Attempt``): not part of the answer, so never
    cached nor compared."""
    # ``http`` (status, headers): a property of ``WithHTTP``, not a field (see ``_models/http.py``).


class ChatResponse(_HasRequestId, Priced):
    """A chat completion; ``cost`` says what it cost (None when that cannot be known)."""

    # (by name: ``prompt_filter_results`` is also read under its older name, an alias)
    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True)

    id: str
    """The completion's id."""
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    """Unix time of creation."""
    model: str
    """The model that answered (often a dated name, such as ``gpt-4o-mini-2024-07-18``)."""
    choices: tuple[Choice, ...]
    """The generated answers (one unless ``n`` asked for more)."""
    usage: Usage | None = None
    """Token usage."""
    system_fingerprint: str | None = None
    """Backend configuration fingerprint, for reproducibility with ``seed``."""
    service_tier: str | None = None
    """The tier that processed the request."""
    prompt_filter_results: tuple[PromptFilterResult, ...] = Field(
        (),  # Azure API versions before 2023-06 called the prompt verdicts "prompt_annotations"
        validation_alias=AliasChoices("prompt_filter_results", "prompt_annotations"),
    )
    """Azure only: the filter's verdict on the prompt."""

    def _billed_tokens(self) -> BilledTokens | None:
        usage = self.usage
        if usage is None:
            return None
        prompt, completion = usage.prompt_tokens_details, usage.completion_tokens_details
        return BilledTokens(
            input=usage.prompt_tokens,
            cached_input=usage.cached_tokens or 0,
            output=usage.completion_tokens,
            reasoning=usage.reasoning_tokens or 0,
            audio=((prompt.audio_tokens or 0) if prompt else 0)
            + ((completion.audio_tokens or 0) if completion else 0),
        )

    def _priced_at(self) -> datetime | None:
        return utc_time(self.created)

    def _service_tier(self) -> str | None:
        return self.service_tier

    @property
    def text(self) -> str:
        """The first choice's text.

        Raises:
            ContentFilterError: the completion was stopped by Azure's content filter (the partial
                text, if any, is on ``error.response``).
            RefusalError: the model refused; the refusal text is on the error.
            NoTextError: the first choice only called tools (see ``choices[0].message.tool_calls``).
        """
        choice = self.choices[0]
        if choice.finish_reason == "content_filter":
            stopped = ContentFilterError(
                "the completion was stopped by the content filter",
                stage="completion",
                results=choice.content_filter_results,
                response=self,
                status_code=200,
                request_id=self.request_id,
            )
            stopped.attempts = self.attempts
            raise stopped
        message = choice.message
        if message.content is not None:
            return message.content
        if message.refusal is not None:
            raise RefusalError(message.refusal, response=self)
        raise NoTextError("the first choice has no text: it holds tool calls")


class ParsedChatResponse(ChatResponse, Generic[T]):
    """A chat completion whose first choice was validated into ``T`` (structured outputs)."""

    parsed: T
    """The first choice's content, validated into the requested type."""


class EmbeddingUsage(_Answer):
    """Token usage of an embeddings call."""

    prompt_tokens: int
    """Tokens in the inputs."""
    total_tokens: int
    """Same as prompt_tokens for embeddings."""


class EmbeddingResponse(_HasRequestId, Priced):
    """Embedding vectors, one per input, in input order; ``cost`` says what they cost."""

    model: str
    """The model that answered."""
    vectors: tuple[tuple[float, ...], ...]
    """One vector per input string, in the order of the request's inputs."""
    usage: EmbeddingUsage | None = None
    """Token usage."""

    def _billed_tokens(self) -> BilledTokens | None:
        return None if self.usage is None else BilledTokens(input=self.usage.prompt_tokens)

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        return len(self.vectors[0]) if self.vectors else 0
