"""Context windows: the known limits of models, and the pre-flight check against them.

The check counts the whole request with ``count_request_tokens`` and raises before anything is sent
when the prompt and the output asked for cannot fit. It returns the count it made, which the
pre-flight layer sets against the ``prompt_tokens`` the API reports (``TokenDrift``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from typed_llm._errors import ContextWindowExceededError
from typed_llm._tokens import count_request_tokens

if TYPE_CHECKING:
    from typed_llm._models.requests import ChatRequest

__all__ = ["ModelLimits", "check_context_window", "model_limits"]


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


_FOUND: dict[str, ModelLimits | None] = {}
"""``model_limits``' answers, by name (the check of every call asks)."""
_FOUND_KEPT: Final = 512
"""Names whose answer is kept (a process names few; past this many, the prefixes are scanned)."""
_UNASKED: Final = ModelLimits(0, 0)


def model_limits(model: str) -> ModelLimits | None:
    """The limits of a known model, or None."""
    found = _FOUND.get(model, _UNASKED)
    if found is not _UNASKED:
        return found
    found = next((limits for prefix, limits in _LIMITS if model.startswith(prefix)), None)
    if len(_FOUND) < _FOUND_KEPT:
        _FOUND[model] = found
    return found


def check_context_window(request: ChatRequest, model: str | None = None) -> int | None:
    """Raise before sending when the counted prompt plus the requested output cannot fit.

    Models without known limits are not checked (nor counted). The output asked for is
    ``max_completion_tokens`` or ``max_tokens``; when neither is given, the prompt alone must fit.

    Args:
        request: the request.
        model: the model whose window and tokenizer apply, when the request names something else
            (an Azure deployment name the client resolves); None: ``request.model``.

    Returns:
        The prompt tokens counted, or None when the model's limits are not known.

    Raises:
        ContextWindowExceededError: it cannot fit (with the counts).
    """
    model = model or request.model
    limits = model_limits(model)
    if limits is None:
        return None
    output = request.max_completion_tokens or request.max_tokens or 0
    prompt = count_request_tokens(request, model).value
    if prompt + output > limits.context_window:
        raise ContextWindowExceededError(
            f"{model} reads at most {limits.context_window} tokens; this prompt has {prompt} "
            f"and asks room for {output} more",
            model=model,
            prompt_tokens=prompt,
            max_output_tokens=output,
            context_window=limits.context_window,
        )
    return prompt
