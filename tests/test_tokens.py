"""Token counting: offline, verified encodings; counts equal to the API's own on real traffic."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as public
import yaml

from helpers import FAKE_OPENAI_KEY, REAL_TRAFFIC
from typed_llm import (
    ChatRequest,
    ConfigurationError,
    ContextWindowExceededError,
    ImagePart,
    ImageURL,
    OpenAIClient,
    SystemMessage,
    TextPart,
    UnknownModelWarning,
    UserMessage,
    _token_memo,
    count_message_tokens,
    count_tokens,
    encoding_for_model,
    model_limits,
)
from typed_llm._cli import main
from typed_llm._tokens import _DATA, _PATTERNS, _SPECIAL, EncodingName, _encoding_name, _load
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

MANIFEST: list[dict[str, Any]] = json.loads((REAL_TRAFFIC / "manifest.json").read_text())


def _real_requests() -> list[tuple[str, ChatRequest, int | None]]:
    cases = []
    for entry in MANIFEST:
        if entry["endpoint_kind"] not in {"chat", "chat_stream"}:
            continue
        interaction = yaml.safe_load((REAL_TRAFFIC / entry["file"]).read_text())["interactions"][
            entry["interaction"]
        ]
        body = json.loads(interaction["request"]["body"])
        body.pop("stream", None)
        body.pop("stream_options", None)
        expected = entry["expected"]
        usage = (
            expected["chat"]["usage"] if "chat" in expected else expected["stream"]["usage_in_final_chunk"]
        )
        case = f"{entry['file']}#{entry['interaction']}"
        cases.append(
            (case, ChatRequest.model_validate(body), None if usage is None else usage["prompt_tokens"])
        )
    return cases


REAL = _real_requests()
EXACT = [
    (case, request, tokens)
    for case, request, tokens in REAL
    if tokens is not None
    and request.response_format is None
    and not any(m.role == "tool" for m in request.messages)
]


@pytest.mark.parametrize(("case", "request_", "api"), EXACT, ids=[c[0] for c in EXACT])
def test_count_equals_the_apis_own(case: str, request_: ChatRequest, api: int) -> None:
    """Plain-text prompts (and tool definitions) count exactly the API's usage.prompt_tokens."""
    assert count_message_tokens(request_.messages, request_.model, request_.tools) == api, case


def test_the_exact_cases_cover_each_family() -> None:
    """The exact comparisons include gpt-4, gpt-4o-mini (OpenAI and Azure), o3-mini and tool definitions."""
    models = {request.model for _, request, _ in EXACT}
    assert models >= {"gpt-4", "gpt-4o-mini", "o3-mini"}
    assert any(request.tools for _, request, _ in EXACT)
    assert len(EXACT) >= 6


def test_estimates_where_the_format_is_not_published() -> None:
    """Tool calls, tool messages and a json_schema response format are estimated within 4 tokens."""
    for case, request, api in REAL:
        if api is None or (
            request.response_format is None and not any(m.role == "tool" for m in request.messages)
        ):
            continue
        counted = count_message_tokens(
            request.messages, request.model, request.tools, request.response_format
        )
        assert abs(api - counted) <= 4, (case, counted, api)


FAMILIES = [
    ("gpt-4o", "o200k_base"),
    ("gpt-4o-mini-2024-07-18", "o200k_base"),
    ("chatgpt-4o-latest", "o200k_base"),
    ("gpt-4.1-nano", "o200k_base"),
    ("gpt-4.5-preview", "o200k_base"),
    ("gpt-5-mini", "o200k_base"),
    ("o1-mini", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4-mini-2025-04-16", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-4-turbo-2024-04-09", "cl100k_base"),
    ("gpt-3.5-turbo-0125", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),
    ("text-embedding-3-small", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
]


@pytest.mark.parametrize(("model", "encoding"), FAMILIES)
def test_encoding_for_each_family(model: str, encoding: str) -> None:
    """Each model family, dated and -mini/-nano variants included, gets its encoding."""
    assert encoding_for_model(model).name == encoding


def test_unknown_model_falls_back_with_a_warning() -> None:
    """An unknown name (an Azure deployment) gets o200k_base and one UnknownModelWarning, not a crash."""
    with pytest.warns(UnknownModelWarning, match="my-deployment-xyz"):
        assert encoding_for_model("my-deployment-xyz").name == "o200k_base"
    assert count_tokens("hello world", "my-deployment-xyz") == 2  # warned once per name


def test_each_encoding_is_loaded_once() -> None:
    """Models sharing an encoding share one loaded object."""
    assert encoding_for_model("gpt-4o") is encoding_for_model("gpt-5-nano")
    assert encoding_for_model("gpt-4") is encoding_for_model("text-embedding-3-large")


def test_no_download_is_attempted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With tiktoken's cache empty and its download refused, both encodings load from the package."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"tiktoken tried to fetch {args} {kwargs}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    _load.cache_clear()
    try:
        assert count_tokens("offline", "gpt-4o") > 0
        assert count_tokens("offline", "gpt-4") > 0
    finally:
        _load.cache_clear()
    assert list(tmp_path.iterdir()) == []


def test_missing_or_damaged_file_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A missing or corrupt encoding file is a ConfigurationError naming the file, hash and remedy."""
    monkeypatch.setenv("TYPED_LLM_ENCODINGS_DIR", str(tmp_path))
    _load.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match=r"cannot read .*TYPED_LLM_ENCODINGS_DIR"):
            count_tokens("x", "gpt-4")
        (tmp_path / "cl100k_base.tiktoken").write_bytes(b"SGVsbG8= 0\n")
        with pytest.raises(ConfigurationError, match="damaged or not cl100k_base"):
            count_tokens("x", "gpt-4")
        shutil.copy(_DATA / "cl100k_base.tiktoken", tmp_path / "cl100k_base.tiktoken")
        assert count_tokens("hello world", "gpt-4") == 2
    finally:
        _load.cache_clear()


def test_patterns_and_special_tokens_match_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The copied regex and special tokens are tiktoken's own (read with its loader stubbed)."""
    monkeypatch.setattr(public, "load_tiktoken_bpe", lambda *_, **__: {})
    builders: tuple[tuple[EncodingName, Callable[[], dict[str, Any]]], ...] = (
        ("cl100k_base", public.cl100k_base),
        ("o200k_base", public.o200k_base),
    )
    for name, build in builders:
        definition = build()
        assert definition["pat_str"] == _PATTERNS[name]
        assert definition["special_tokens"] == _SPECIAL[name]


def test_message_formula_parts() -> None:
    """Names add their tokens plus one; an image part adds 85; text parts count like text."""
    plain = count_message_tokens([UserMessage(content="hi")], "gpt-4o")
    named = count_message_tokens([UserMessage(content="hi", name="ann")], "gpt-4o")
    assert named - plain == count_tokens("ann", "gpt-4o") + 1
    parts = UserMessage(
        content=(TextPart(text="hi"), ImagePart(image_url=ImageURL(url="https://x.test/a.png")))
    )
    assert count_message_tokens([parts], "gpt-4o") == plain + 85
    assert count_message_tokens([SystemMessage(content="hi")], "gpt-4o") == plain + count_tokens(
        "system", "gpt-4o"
    ) - count_tokens("user", "gpt-4o")


def test_context_window_table() -> None:
    """Known models have limits; unknown ones have none."""
    limits = model_limits("gpt-4-0613")
    assert limits is not None
    assert limits.context_window == 8192
    assert model_limits("gpt-4o-mini-2024-07-18") is not None
    assert model_limits("my-deployment") is None


def test_preflight_refuses_what_cannot_fit_before_sending() -> None:
    """Over the window: ContextWindowExceededError and nothing sent; preflight=False sends."""
    long = ChatRequest(model="gpt-4", messages=(UserMessage(content="word " * 8000),), max_tokens=500)
    with FakeAPI() as fake:
        client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        with pytest.raises(ContextWindowExceededError) as caught:
            client.complete(long)
        assert fake.received == []
        OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, preflight=False).complete(long)
        assert len(fake.received) == 1
        client.complete(long.model_copy(update={"max_tokens": 100}))
        assert len(fake.received) == 2
    error = caught.value
    assert (error.model, error.context_window, error.max_output_tokens) == ("gpt-4", 8192, 500)
    assert error.prompt_tokens == count_message_tokens(long.messages, "gpt-4")


def test_tokens_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`typed-llm tokens TEXT --model M` and `--messages FILE.json` count offline."""
    assert main(["tokens", "Hello, typed world", "--model", "gpt-4o-mini"]) == 0
    assert capsys.readouterr().out.startswith(
        f"{count_tokens('Hello, typed world', 'gpt-4o-mini')} tokens (text"
    )
    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"role": "user", "content": "What is 4200 + 42?"}]))
    assert main(["tokens", "--messages", str(path), "--model", "gpt-4o-mini"]) == 0
    assert capsys.readouterr().out.startswith("16 tokens (1 messages")
    path.write_text("[{")
    assert main(["tokens", "--messages", str(path), "--model", "gpt-4o-mini"]) == 2
    assert "cannot read messages" in capsys.readouterr().err


def test_cl100k_and_o200k_split_differently() -> None:
    """The two encodings really are different tokenizers (a mix-up would not go unnoticed)."""
    text = "Schönheit ist überall 😀 — 12345678"
    assert count_tokens(text, "gpt-4") != count_tokens(text, "gpt-4o")
    assert _encoding_name("gpt-4") == "cl100k_base"


# --- the memo of counted texts (``_token_memo``) -----------------------------------------------------


@pytest.fixture
def forgetful_memo() -> Iterator[None]:
    _token_memo.forget()
    yield
    _token_memo.forget()


def _tokenizer_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts handed to tiktoken from now on (its count still made)."""
    seen: list[str] = []
    original = tiktoken.Encoding.encode_ordinary

    def spy(self: tiktoken.Encoding, text: str) -> list[int]:
        seen.append(text)
        return original(self, text)

    monkeypatch.setattr(tiktoken.Encoding, "encode_ordinary", spy)
    return seen


@pytest.mark.usefixtures("forgetful_memo")
def test_a_resent_conversation_is_tokenized_only_where_it_is_new(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each turn resends the history: only the new message's text reaches the tokenizer."""
    seen = _tokenizer_calls(monkeypatch)
    history = (SystemMessage(content="You are terse."), UserMessage(content="Name a colour."))
    first = count_message_tokens(history, "gpt-4o-mini")
    longer = (*history, UserMessage(content="And a fruit?"))
    second = count_message_tokens(longer, "gpt-4o-mini")
    assert seen == ["system", "You are terse.", "user", "Name a colour.", "And a fruit?"]
    _token_memo.forget()
    assert (count_message_tokens(history, "gpt-4o-mini"), count_message_tokens(longer, "gpt-4o-mini")) == (
        first,
        second,
    )


@pytest.mark.usefixtures("forgetful_memo")
@pytest.mark.parametrize("text", ["plain words", "<|endoftext|> as text", "ünïcödé ✓", "", "a" * 5000])
def test_a_remembered_count_is_the_count(text: str) -> None:
    """Counted again from the memo, a text has the tokenizer's count (special tokens as text)."""
    expected = count_tokens(text, "gpt-4o-mini")
    count = _token_memo.counter(_load("o200k_base"))
    assert (count(text), count(text)) == (expected, expected)


@pytest.mark.usefixtures("forgetful_memo")
def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most ENTRIES texts, the oldest forgotten first; a text over LONGEST characters is never kept."""
    monkeypatch.setattr(_token_memo, "ENTRIES", 3)
    seen = _tokenizer_calls(monkeypatch)
    count = _token_memo.counter(_load("cl100k_base"))
    long = "word " * (_token_memo.LONGEST // 5 + 1)
    for text in ("one", "two", "three", "four", long, long, "two", "one"):
        count(text)
    assert seen == ["one", "two", "three", "four", long, long, "one"]  # "two" was kept, "one" evicted


def test_what_a_count_keeps_per_model_is_bounded() -> None:
    """Counting for ever new model names (dated snapshots, deployments) keeps at most 512 plans and
    limits, and each name still counts and resolves as a name seen for the first time."""
    from typed_llm import _tokens, _window  # noqa: PLC0415  (their private tables, read here only)

    history = (UserMessage(content="Name a colour."),)
    first = count_message_tokens(history, "gpt-4o-mini")
    for day in range(600):
        name = f"gpt-4o-mini-{day:04d}"
        assert count_message_tokens(history, name) == first
        assert model_limits(name) == model_limits("gpt-4o-mini")
    assert len(_tokens._PLANS) <= 512
    assert len(_window._FOUND) <= 512
