"""Token counts against the API's own usage.prompt_tokens, on every recorded chat request.

Walks every YAML cassette under cassettes/real-traffic/ (the first batch, streams/ and tokens/),
takes each chat request whose answer reports ``usage.prompt_tokens`` (in a JSON body or in a
stream's final chunk, gzip-compressed or not), and checks the count ``count_request_tokens`` gives:
equal to the API's where it says ``exact``, and within 2 tokens on average where it estimates.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING

import pytest
import yaml

from helpers import REAL_TRAFFIC
from typed_llm import (
    ChatRequest,
    ResponseFormatJSONSchema,
    TokenCount,
    count_message_tokens,
    count_request_tokens,
)

if TYPE_CHECKING:
    from pathlib import Path


def _text(body: object) -> str | None:
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        return body.decode()
    return body if isinstance(body, str) else None


def _prompt_tokens(body: str) -> int | None:
    try:
        usage = json.loads(body).get("usage")
    except ValueError:  # a stream: the usage is in the last chunk that has one
        usage = None
        for line in body.splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                usage = json.loads(line[5:]).get("usage") or usage
    return None if usage is None else int(usage["prompt_tokens"])


def _cases() -> list[tuple[str, ChatRequest, int]]:
    cases = []
    paths: list[Path] = sorted(REAL_TRAFFIC.rglob("*.yaml"))
    for path in paths:
        for index, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
            if not interaction["request"]["uri"].split("?")[0].endswith("/chat/completions"):
                continue
            request_body, response_body = (
                _text(interaction["request"]["body"]),
                _text(interaction["response"]["body"]),
            )
            tokens = None if response_body is None else _prompt_tokens(response_body)
            if request_body is None or tokens is None:
                continue
            body = json.loads(request_body)
            body.pop("stream", None)
            body.pop("stream_options", None)
            cases.append(
                (f"{path.relative_to(REAL_TRAFFIC)}#{index}", ChatRequest.model_validate(body), tokens)
            )
    return cases


CASES = _cases()
EXACT = [case for case in CASES if count_request_tokens(case[1]).exact]
ESTIMATED = [case for case in CASES if not count_request_tokens(case[1]).exact]


@pytest.mark.parametrize(("case", "request_", "api"), EXACT, ids=[c[0] for c in EXACT])
def test_exact_counts_equal_the_apis(case: str, request_: ChatRequest, api: int) -> None:
    """Where the count says it is exact, it is the API's usage.prompt_tokens, to the token."""
    assert count_request_tokens(request_) == TokenCount(value=api, exact=True), case


def test_estimates_are_within_two_tokens_on_average() -> None:
    """Tools, tool calls and json_schema response formats: mean absolute error at most 2 tokens."""
    errors = {case: count_request_tokens(request).value - api for case, request, api in ESTIMATED}
    assert sum(abs(error) for error in errors.values()) / len(errors) <= 2, errors
    assert max(abs(error) for error in errors.values()) <= 5, errors


def test_the_walk_covers_every_family_and_kind() -> None:
    """Plain text on gpt-4, gpt-4o-mini, o3-mini, gpt-5 and gpt-5-mini; tools, calls and schemas."""
    assert {request.model for _, request, _ in EXACT} >= {
        "gpt-4",
        "gpt-4o-mini",
        "o3-mini",
        "gpt-5",
        "gpt-5-mini",
    }
    schemas = [r for _, r, _ in ESTIMATED if isinstance(r.response_format, ResponseFormatJSONSchema)]
    assert len(schemas) >= 5
    assert any(r.tools for r in schemas)
    assert any(r.tools is None for r in schemas)
    assert any(m.role == "tool" for _, r, _ in ESTIMATED for m in r.messages)
    assert len(CASES) >= 16


def test_plain_text_is_exact_and_the_rest_is_not() -> None:
    """The exact flag is true for plain text only; a response format or tools make an estimate."""
    plain = next(r for _, r, _ in EXACT if r.model == "gpt-5")
    assert count_request_tokens(plain).exact
    schema = next(r for _, r, _ in ESTIMATED if isinstance(r.response_format, ResponseFormatJSONSchema))
    counted = count_request_tokens(schema)
    assert not counted.exact
    assert int(counted) == counted.value


def test_the_old_functions_agree_with_the_new_one() -> None:
    """count_message_tokens gives the same numbers when given the same parts of the request."""
    for _, request, _ in CASES:
        assert (
            count_message_tokens(request.messages, request.model, request.tools, request.response_format)
            == count_request_tokens(request).value
        )


def test_response_format_counts_the_schema_and_drops_what_the_api_drops() -> None:
    """A longer schema costs more; ``required`` and ``additionalProperties`` cost nothing."""
    schema = next(r for _, r, _ in ESTIMATED if isinstance(r.response_format, ResponseFormatJSONSchema))
    assert isinstance(schema.response_format, ResponseFormatJSONSchema)
    definition = schema.response_format.json_schema
    bare = ResponseFormatJSONSchema.model_validate(
        {
            "json_schema": {
                "name": definition.name,
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
            }
        }
    )
    extra = ResponseFormatJSONSchema.model_validate(
        {
            "json_schema": {
                "name": definition.name,
                "schema": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "required": ["a"],
                    "additionalProperties": False,
                },
            }
        }
    )
    described = ResponseFormatJSONSchema.model_validate(
        {
            "json_schema": {
                **bare.json_schema.model_dump(by_alias=True),
                "description": "What the answer is for.",
            }
        }
    )

    def count(response_format: ResponseFormatJSONSchema) -> int:
        return count_request_tokens(schema.model_copy(update={"response_format": response_format})).value

    assert count(bare) == count(extra)
    assert count(described) > count(bare)
    assert count(bare) > count_request_tokens(schema.model_copy(update={"response_format": None})).value
