"""What the loopback fake says: plausible answers to the prompts it knows, and example values.

The fake is a stand-in for the API, so its answers should read like one. A prompt it knows (the
demo's, the README's) gets a canned answer a model could have given. Any other prompt is echoed
(``Echo: <the prompt>``), which shows a test what arrived. A structured output or a tool call gets
a value that fits its schema, with plausible values for common field names (a ``country`` is a
country, a ``population`` a population), so ``City(name='Paris', country='France',
population=2102650)`` rather than ``country='Paris', population=3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["chat_answer", "example", "text_of"]

CANNED: Final[Mapping[str, str]] = {
    "Name one reason to type-check LLM calls.": (
        "A type checker catches a misspelled parameter or a missing field before the request is sent, "
        "not in production."
    ),
    "Say hello in French.": "Bonjour !",
    "Name one reason to use the Responses API.": (
        "It keeps reasoning items and tool calls as typed output items you can send back as they are."
    ),
    "Hello": "Hello! How can I help you today?",
    "Why type-check LLM calls?": (
        "Because a type checker finds a wrong field or a misspelled parameter before the request is sent."
    ),
    "Tell me a short story.": "A developer typed her requests. The bug never shipped, and she slept well.",
    "Write a haiku about type checking.": (
        "Types guard the door / errors caught before they run / a quiet release"
    ),
    "What is the capital of France?": "The capital of France is Paris.",
    "Name a primary colour.": "Red.",
}
"""Prompts the fake answers as a model would (the last user message, exactly)."""

_VALUES: Final[Mapping[str, tuple[str, object]]] = {
    "name": ("string", "Paris"),
    "city": ("string", "Paris"),
    "capital": ("string", "Paris"),
    "country": ("string", "France"),
    "population": ("integer", 2102650),
    "reason": ("string", "It is stated in the question."),
    "answer": ("string", "Paris"),
    "summary": ("string", "A short summary of the text."),
    "confidence": ("number", 0.9),
    "age": ("integer", 34),
}
"""Plausible values for common field names, used when the schema's type agrees."""

_BY_TYPE: Final[Mapping[str, object]] = {"string": "Paris", "integer": 3, "number": 1.5, "boolean": True}


def text_of(content: object) -> str:
    """The text of a message's content (a string, or the text parts of a list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def chat_answer(prompt: str) -> str:
    """The fake's answer to ``prompt``: a canned one it knows, else the prompt echoed."""
    return CANNED.get(prompt.strip(), f"Echo: {prompt}")


def example(schema: object, defs: Mapping[str, object], depth: int = 0, name: str | None = None) -> object:  # noqa: PLR0911  (one return per schema kind)
    """A value that fits a JSON schema: the fake's answer to a structured output or a tool call."""
    if not isinstance(schema, Mapping) or depth > 8:  # noqa: PLR2004  (recursive schemas stop somewhere)
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example(defs.get(ref.rsplit("/", 1)[-1]), defs, depth + 1, name)
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    if "anyOf" in schema and isinstance(schema["anyOf"], list):
        return example(schema["anyOf"][0], defs, depth + 1, name)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties")
        items = properties.items() if isinstance(properties, Mapping) else ()
        return {key: example(sub, defs, depth + 1, key) for key, sub in items}
    if kind == "array":
        return [example(schema.get("items"), defs, depth + 1)]
    known = _VALUES.get(name.lower()) if name else None
    if known is not None and known[0] == kind:
        return known[1]
    return _BY_TYPE.get(str(kind))
