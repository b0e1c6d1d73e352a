"""Token counting that works offline: tiktoken's encodings carried in the package, verified by hash.

tiktoken downloads its encoding files on first use, which fails on machines with no internet. The
package carries the two files chat and embedding models use (``cl100k_base``, 1.7 MB, and
``o200k_base``, 3.6 MB, about 2.5 MB compressed in the wheel), and checks each against the SHA-256
tiktoken publishes before using it. A directory named by ``TYPED_LLM_ENCODINGS_DIR`` (files named
``cl100k_base.tiktoken`` and ``o200k_base.tiktoken``) takes precedence, for a newer copy. Each
encoding is loaded once per process. Nothing here touches the network.

``count_message_tokens`` follows OpenAI's published formula for chat prompts: 3 tokens per
message, 1 more per ``name``, and 3 to prime the reply (2 for the o-series and gpt-5), plus the
encoded role and text. ``count_request_tokens`` counts a whole ``ChatRequest`` (tools and response
format included) and says, in a ``TokenCount``, whether the count is exact or an estimate: the API
renders tools, tool calls and response formats into the prompt in a form it does not publish, so
those parts follow the renderings OpenAI documented for gpt-oss (harmony) and the cookbook's
fitted tool formula, checked against the API's own counts on recorded traffic.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import attrs

from typed_llm._errors import ConfigurationError, UnknownModelWarning
from typed_llm._json import JSONValue, thaw
from typed_llm._models.messages import (
    AssistantMessage,
    DeveloperMessage,
    ImagePart,
    Message,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
)
from typed_llm._models.requests import FunctionTool, ResponseFormatJSONSchema
from typed_llm._token_memo import counter

if TYPE_CHECKING:
    import tiktoken

    from typed_llm._models.messages import CustomToolCall
    from typed_llm._models.requests import ChatRequest, CustomTool, ResponseFormat

__all__ = [
    "FALLBACK_ENCODING",
    "TokenCount",
    "UnknownModelWarning",
    "count_message_tokens",
    "count_request_tokens",
    "count_tokens",
    "encoding_for_model",
]

EncodingName = Literal["cl100k_base", "o200k_base"]

FALLBACK_ENCODING: Final[EncodingName] = "o200k_base"
"""The encoding of a model this module does not know (every current OpenAI chat model uses it)."""

_DATA = Path(__file__).parent / "_data" / "encodings"
_EXPECTED_SHA256: Final[Mapping[EncodingName, str]] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
"""SHA-256 of each file as published in tiktoken's ``tiktoken_ext/openai_public.py``."""

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"
# Pattern and special tokens of each encoding, as tiktoken_ext/openai_public.py defines them
# (a test checks they still match the installed tiktoken).
# ruff: noqa: E501  (the tokenizer patterns are copied verbatim)
_PATTERNS: Final[Mapping[EncodingName, str]] = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(  # noqa: FLY002  (kept in tiktoken's own shape, to compare by eye)
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
_SPECIAL: Final[Mapping[EncodingName, Mapping[str, int]]] = {
    "cl100k_base": {
        _ENDOFTEXT: 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        _ENDOFPROMPT: 100276,
    },
    "o200k_base": {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
}

# Prefixes, longest first where one contains another. Dated and -mini/-nano variants match their
# family's prefix.
_PREFIXES: Final[tuple[tuple[str, EncodingName], ...]] = (
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),  # Azure's spelling
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
)


@functools.cache
def _encoding_name(model: str) -> EncodingName:
    for prefix, name in _PREFIXES:
        if model.startswith(prefix):
            return name
    warnings.warn(
        f"typed-llm does not know the encoding of model {model!r}; counting with {FALLBACK_ENCODING} "
        "(the counts may be off)",
        UnknownModelWarning,
        stacklevel=4,
    )
    return FALLBACK_ENCODING


def _file(name: EncodingName) -> Path:
    override = os.environ.get("TYPED_LLM_ENCODINGS_DIR")
    return Path(override) / f"{name}.tiktoken" if override else _DATA / f"{name}.tiktoken"


_load_lock = threading.Lock()


@functools.cache
def _load(name: EncodingName) -> tiktoken.Encoding:
    path = _file(name)
    how_to_fix = (
        f"typed-llm needs the tiktoken encoding file {name}.tiktoken (SHA-256 {_EXPECTED_SHA256[name]}). "
        "Reinstall typed-llm, which carries it, or put a copy in the folder named by "
        "TYPED_LLM_ENCODINGS_DIR (tiktoken's own download is "
        f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken)"
    )
    try:
        contents = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}. {how_to_fix}") from exc
    digest = hashlib.sha256(contents).hexdigest()
    if digest != _EXPECTED_SHA256[name]:
        raise ConfigurationError(f"{path} is damaged or not {name} (SHA-256 {digest}). {how_to_fix}")
    lines = (line.split() for line in contents.splitlines() if line)
    ranks = {base64.b64decode(token): int(rank) for token, rank in lines}
    # Imported here, with the first encoding: a process whose calls are all cache hits never
    # counts a token, so it need not carry tiktoken (its extension and its regex engine) either.
    import tiktoken  # noqa: PLC0415

    return tiktoken.Encoding(
        name=name, pat_str=_PATTERNS[name], mergeable_ranks=ranks, special_tokens=dict(_SPECIAL[name])
    )


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The tokenizer of ``model``, loaded from the package's verified files once per process.

    Unknown names (an Azure deployment name, a new model) get ``FALLBACK_ENCODING`` and an
    ``UnknownModelWarning``, once per name.

    Raises:
        ConfigurationError: the encoding file is missing or fails its hash check (the message says
            how to provide it).
    """
    with _load_lock:  # one load per encoding, even when threads ask at once
        return _load(_encoding_name(model))


def count_tokens(text: str, model: str) -> int:
    """Tokens in ``text`` for ``model`` (special-token text is counted as ordinary text)."""
    return len(encoding_for_model(model).encode(text, disallowed_special=()))


_TOKENS_PER_MESSAGE: Final = 3
_TOKENS_PER_NAME: Final = 1
_REPLY_PRIMING: Final = 3
_ONE_LESS_PRIMING: Final = ("o1", "o3", "o4", "gpt-5")
"""Families that prime the reply with one token fewer (measured: o3-mini, gpt-5, gpt-5-mini)."""
_TOOL_CALL_EXTRA: Final = 2
"""Tokens of a single tool call's header beyond ``assistant to=functions.NAME`` and its arguments.
Not published: fitted on three recorded single calls (three tool names), so an estimate."""
_RESPONSE_FORMAT_EXTRA: Final = 3
"""Tokens a ``json_schema`` response format adds beyond the text of its harmony section (the
separator from what precedes it in the system message). Fitted on recorded traffic, an estimate."""
_IMAGE_LOW_DETAIL: Final = 85
"""An image part at ``detail="low"`` costs 85 tokens; other details depend on its size (not known)."""
_SCHEMA_KEYS_NOT_RENDERED: Final = frozenset({"required", "additionalProperties", "$schema"})
"""Keys of a response format's JSON Schema the API leaves out of the prompt (community-measured,
confirmed on recorded traffic: counting them makes the counts too high by their size)."""


@attrs.frozen
class TokenCount:
    """A prompt's token count, and whether it is exact.

    ``exact`` is true when every part of the prompt is counted by a formula that equals the API's
    own ``usage.prompt_tokens`` on every recorded case: plain text and ``name`` in system,
    developer, user and assistant messages, and a ``json_object`` response format (which adds
    nothing). Tools, tool calls, tool results, images and a ``json_schema`` response format make
    it an estimate (within a few tokens on the recorded cases; images may be further off).
    """

    value: int
    """The number of prompt tokens."""
    exact: bool
    """Whether ``value`` is exact (see the class docstring) or an estimate."""

    def __int__(self) -> int:
        return self.value


def _text_of(message: Message) -> tuple[str, int, bool]:
    """The text a message contributes, tokens known without encoding (images), and exactness."""
    extra = 0
    exact = True
    content = message.content
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        parts: list[str] = []
        for part in content:
            if isinstance(part, TextPart):
                parts.append(part.text)
            elif isinstance(part, ImagePart):
                extra += _IMAGE_LOW_DETAIL
                exact = False
            elif isinstance(part, RefusalPart):
                parts.append(part.refusal)
            else:  # audio and file parts: no published count; left out of this estimate
                exact = False
        text = "".join(parts)
    return text, extra, exact


def _primes_one_less(model: str) -> bool:
    return _encoding_name(model) == "o200k_base" and model.startswith(_ONE_LESS_PRIMING)


_PLANS: dict[str, tuple[Callable[[str], int], int]] = {}
_PLANS_KEPT: Final = 512
"""Models whose plan is kept (a process names few; past this many, plans are built per count)."""


def plan_for(model: str) -> tuple[Callable[[str], int], int]:
    """How to count for ``model``: its encoding's memoizing counter, and the tokens priming the reply.

    Built on the first count of a model and kept: the pre-flight check of every call then costs one
    lookup here instead of the encoding's lock, two caches, a new counter and the priming rule (on
    the path of a call that has just woken up, each distinct step touched costs several times its
    own time: bench/README.md). Building it loads the encoding (``encoding_for_model``'s errors and
    its once-per-name ``UnknownModelWarning``).
    """
    plan = _PLANS.get(model)
    if plan is None:
        plan = (counter(encoding_for_model(model)), _REPLY_PRIMING - (1 if _primes_one_less(model) else 0))
        if len(_PLANS) < _PLANS_KEPT:
            _PLANS[model] = plan
    return plan


def _count(
    messages: Sequence[Message],
    model: str,
    tools: Sequence[FunctionTool | CustomTool] | None,
    response_format: ResponseFormat | None,
) -> TokenCount:
    encode, total = plan_for(model)
    exact = True
    call_names: dict[str, str] = {}
    for message in messages:
        text, extra, text_exact = _text_of(message)
        exact = exact and text_exact
        if isinstance(message, AssistantMessage) and message.tool_calls:
            exact = False
            for call in message.tool_calls:
                call_names[call.id] = _call_name_and_payload(call)[0]
            total += _tool_calls_tokens(message.tool_calls, encode) + (encode(text) if text else 0) + extra
        elif isinstance(message, ToolMessage):
            # A tool result is rendered under the called function's name, not the role "tool".
            exact = False
            author = (
                f"functions.{call_names[message.tool_call_id]}"
                if message.tool_call_id in call_names
                else "tool"
            )
            total += _TOKENS_PER_MESSAGE + encode(author) + encode(text) + extra
        else:
            total += _TOKENS_PER_MESSAGE + encode(message.role) + encode(text) + extra
        if not isinstance(message, ToolMessage) and message.name is not None:
            total += encode(message.name) + _TOKENS_PER_NAME
    if tools:
        exact = False
        total += _tool_tokens(tools, model, encode)
    if isinstance(response_format, ResponseFormatJSONSchema):
        exact = False
        opens_system_message = not tools and not any(
            isinstance(message, SystemMessage | DeveloperMessage) for message in messages
        )
        total += _response_format_tokens(response_format, encode, opens_system_message=opens_system_message)
    return TokenCount(value=total, exact=exact)


def count_message_tokens(
    messages: Sequence[Message],
    model: str,
    tools: Sequence[FunctionTool | CustomTool] | None = None,
    response_format: ResponseFormat | None = None,
) -> int:
    """Prompt tokens of a conversation, by OpenAI's published per-message formula.

    Exact for plain-text messages, every model family included (checked against the API's own
    counts in the test suite). Estimates: ``tools`` (the OpenAI cookbook's formula), assistant tool
    calls and tool results (the harmony rendering), images (85 tokens each, their ``low`` detail
    price), and a ``json_schema`` ``response_format`` (its harmony section). Use
    ``count_request_tokens`` to learn which the count is.
    """
    return _count(messages, model, tools, response_format).value


def count_request_tokens(request: ChatRequest, model: str | None = None) -> TokenCount:
    """Prompt tokens of a whole request (messages, tools, response format), exact or estimated.

    Args:
        request: the request.
        model: the model whose tokenizer counts, when the request names something else (an Azure
            deployment); None: ``request.model``.

    Returns:
        The count, with ``exact`` true only when every part of the prompt is counted by a formula
        that matched the API on every recorded case (see ``TokenCount``).
    """
    return _count(request.messages, model or request.model, request.tools, request.response_format)


def _call_name_and_payload(call: ToolCall | CustomToolCall) -> tuple[str, str]:
    """A call's tool name and what it passes (a custom tool's free-form input is estimated alike)."""
    if isinstance(call, ToolCall):
        return call.function.name, call.function.arguments
    return call.custom.name, call.custom.input


def _tool_calls_tokens(calls: Sequence[ToolCall | CustomToolCall], encode: Callable[[str], int]) -> int:
    """An assistant message of tool calls, as the API renders it (harmony style).

    One call is a message addressed ``to=functions.NAME`` holding its arguments; several calls in
    one message are one call to ``multi_tool_use.parallel`` with the calls as compact JSON.
    """
    named = [_call_name_and_payload(call) for call in calls]
    if len(named) == 1:
        name, payload = named[0]
        return (
            _TOKENS_PER_MESSAGE
            + encode(f"assistant to=functions.{name}")
            + encode(payload)
            + _TOOL_CALL_EXTRA
        )
    uses = [
        {"recipient_name": f"functions.{name}", "parameters": _arguments(payload)} for name, payload in named
    ]
    return (
        _TOKENS_PER_MESSAGE
        + encode("assistant to=multi_tool_use.parallel")
        + encode(json.dumps({"tool_uses": uses}, separators=(",", ":"), ensure_ascii=False))
    )


def _arguments(arguments: str) -> object:
    """A call's arguments as JSON, or as the raw text when the model wrote invalid JSON."""
    try:
        return json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments


def _without_keys(value: object, keys: frozenset[str]) -> object:
    if isinstance(value, dict):
        return {key: _without_keys(item, keys) for key, item in value.items() if key not in keys}
    if isinstance(value, list):
        return [_without_keys(item, keys) for item in value]
    return value


def _response_format_tokens(
    response_format: ResponseFormatJSONSchema, encode: Callable[[str], int], *, opens_system_message: bool
) -> int:
    """Tokens of a ``json_schema`` response format, rendered as OpenAI's harmony guide shows.

    The section is ``# Response Formats``, ``## NAME``, the description as a ``//`` comment, and
    the schema as compact JSON without ``required``, ``additionalProperties`` and ``$schema``. It
    goes at the end of the system message, or in a new one when the prompt has none.
    """
    definition = response_format.json_schema
    schema: JSONValue = definition.schema_ if definition.schema_ is not None else {}
    rendered = json.dumps(
        _without_keys(thaw(schema), _SCHEMA_KEYS_NOT_RENDERED), separators=(",", ":"), ensure_ascii=False
    )
    comment = f"// {definition.description}\n" if definition.description else ""
    section = f"# Response Formats\n\n## {definition.name}\n\n{comment}{rendered}"
    new_message = _TOKENS_PER_MESSAGE + encode("system") if opens_system_message else 0
    return encode(section) + _RESPONSE_FORMAT_EXTRA + new_message


def _tool_tokens(tools: Sequence[FunctionTool | CustomTool], model: str, encode: Callable[[str], int]) -> int:
    """Tokens the tool definitions add, by the OpenAI cookbook's published formula."""
    o200k = _encoding_name(model) == "o200k_base"
    function_start, property_start, property_key, enum_start, enum_item, end = (
        (7, 3, 3, -3, 3, 12) if o200k else (10, 3, 3, -3, 3, 12)
    )
    total = 0
    for tool in tools:
        if not isinstance(tool, FunctionTool):
            # No published formula for custom tools: their name and description, as an estimate.
            total += function_start + encode(f"{tool.custom.name}:{tool.custom.description or ''}")
            continue
        function = tool.function
        description = (function.description or "").removesuffix(".")
        total += function_start + encode(f"{function.name}:{description}")
        properties = (function.parameters or {}).get("properties")
        if isinstance(properties, Mapping) and properties:
            total += property_start
            for key, schema in properties.items():
                total += property_key
                schema = schema if isinstance(schema, Mapping) else {}  # noqa: PLW2901
                enum = schema.get("enum")
                if isinstance(enum, tuple):
                    total += enum_start + sum(enum_item + encode(str(item)) for item in enum)
                kind = schema.get("type", "")
                text = str(schema.get("description", "")).removesuffix(".")
                total += encode(f"{key}:{kind}:{text}")
    return total + end
