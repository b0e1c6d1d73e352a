"""Token counting that works offline: tiktoken's encodings carried in the package, verified by hash.

tiktoken downloads its encoding files on first use, which fails on machines with no internet. The
package carries the two files chat and embedding models use (``cl100k_base``, 1.7 MB, and
``o200k_base``, 3.6 MB, about 2.5 MB compressed in the wheel), and checks each against the SHA-256
tiktoken publishes before using it. A directory named by ``TYPED_LLM_ENCODINGS_DIR`` (files named
``cl100k_base.tiktoken`` and ``o200k_base.tiktoken``) takes precedence, for a newer copy. Each
encoding is loaded once per process. Nothing here touches the network.

``count_message_tokens`` follows OpenAI's published formula for chat prompts: 3 tokens per
message, 1 more per ``name``, and 3 to prime the reply, plus the encoded role and text.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import attrs
import tiktoken

from typed_llm._errors import ConfigurationError, ContextWindowExceededError
from typed_llm._messages import (
    AssistantMessage,
    ImagePart,
    Message,
    RefusalPart,
    TextPart,
    ToolCall,
    ToolMessage,
)
from typed_llm._requests import FunctionTool

if TYPE_CHECKING:
    from typed_llm._requests import ChatRequest, CustomTool

__all__ = [
    "FALLBACK_ENCODING",
    "ModelLimits",
    "UnknownModelWarning",
    "check_context_window",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
    "model_limits",
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


class UnknownModelWarning(UserWarning):
    """A model this package does not know: its tokens are counted with the fallback encoding."""


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
_TOKENS_PER_TOOL_CALL: Final = 15
"""Overhead of one tool call in an assistant message beyond its name and arguments. Not published:
fitted on one real recording (two calls), so an estimate."""
_IMAGE_LOW_DETAIL: Final = 85
"""An image part at ``detail="low"`` costs 85 tokens; other details depend on its size (not known)."""


def _text_of(message: Message) -> tuple[str, int]:
    """The text a message contributes, and tokens known without encoding (images)."""
    extra = 0
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
            elif isinstance(part, RefusalPart):
                parts.append(part.refusal)
            # Audio and file parts: no published count; left out of this estimate.
        text = "".join(parts)
    return text, extra


def count_message_tokens(
    messages: Sequence[Message], model: str, tools: Sequence[FunctionTool | CustomTool] | None = None
) -> int:
    """Prompt tokens of a conversation, by OpenAI's published per-message formula.

    Exact for plain-text messages (checked against the API's own counts in the test suite), and for
    ``tools`` by the OpenAI cookbook's published formula (also checked). Estimates: images count
    85 tokens each (their ``low`` detail price; larger details depend on the image's size);
    assistant tool calls count their name, arguments and a fitted overhead; a ``json_schema``
    response format, which the API also puts in the prompt, is not counted.
    """
    encoding = encoding_for_model(model)

    def encode(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    total = _REPLY_PRIMING
    for message in messages:
        text, extra = _text_of(message)
        total += _TOKENS_PER_MESSAGE + encode(message.role) + encode(text) + extra
        if not isinstance(message, ToolMessage) and message.name is not None:
            total += encode(message.name) + _TOKENS_PER_NAME
        if isinstance(message, AssistantMessage) and message.tool_calls:
            for call in message.tool_calls:
                name, payload = (
                    (call.function.name, call.function.arguments)
                    if isinstance(call, ToolCall)
                    else (call.custom.name, call.custom.input)  # a custom tool call: estimated alike
                )
                total += encode(name) + encode(payload) + _TOKENS_PER_TOOL_CALL
    if tools:
        total += _tool_tokens(tools, model, encode)
    if _encoding_name(model) == "o200k_base" and model.startswith(("o1", "o3", "o4")):
        total -= 1  # the o-series prime the reply with one token fewer (measured on real traffic)
    return total


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


@attrs.frozen
class ModelLimits:
    """How many tokens a model reads and writes."""

    context_window: int
    """Prompt and output together."""
    max_output: int
    """Output (reasoning included) at most."""


_LIMITS: Final[tuple[tuple[str, ModelLimits], ...]] = (
    ("gpt-5", ModelLimits(400_000, 128_000)),
    ("gpt-4.1", ModelLimits(1_047_576, 32_768)),
    ("gpt-4.5", ModelLimits(128_000, 16_384)),
    ("gpt-4o-mini", ModelLimits(128_000, 16_384)),
    ("gpt-4o", ModelLimits(128_000, 16_384)),
    ("chatgpt-4o", ModelLimits(128_000, 16_384)),
    ("o1-mini", ModelLimits(128_000, 65_536)),
    ("o1", ModelLimits(200_000, 100_000)),
    ("o3-mini", ModelLimits(200_000, 100_000)),
    ("o3", ModelLimits(200_000, 100_000)),
    ("o4-mini", ModelLimits(200_000, 100_000)),
    ("gpt-4-turbo", ModelLimits(128_000, 4_096)),
    ("gpt-4-32k", ModelLimits(32_768, 4_096)),
    ("gpt-4", ModelLimits(8_192, 8_192)),
    ("gpt-3.5-turbo", ModelLimits(16_385, 4_096)),
    ("gpt-35-turbo", ModelLimits(16_385, 4_096)),
)
"""Known models' limits, by prefix, most specific first (OpenAI's model pages, Nov 2026)."""


def model_limits(model: str) -> ModelLimits | None:
    """The limits of a known model, or None."""
    for prefix, limits in _LIMITS:
        if model.startswith(prefix):
            return limits
    return None


def check_context_window(request: ChatRequest) -> None:
    """Raise before sending when the counted prompt plus the requested output cannot fit.

    Models without known limits are not checked. The output asked for is ``max_completion_tokens``
    or ``max_tokens``; when neither is given, the prompt alone must fit.

    Raises:
        ContextWindowExceededError: it cannot fit (with the counts).
    """
    limits = model_limits(request.model)
    if limits is None:
        return
    output = request.max_completion_tokens or request.max_tokens or 0
    prompt = count_message_tokens(request.messages, request.model, request.tools)
    if prompt + output > limits.context_window:
        raise ContextWindowExceededError(
            f"{request.model} reads at most {limits.context_window} tokens; this prompt has {prompt} "
            f"and asks room for {output} more",
            model=request.model,
            prompt_tokens=prompt,
            max_output_tokens=output,
            context_window=limits.context_window,
        )
