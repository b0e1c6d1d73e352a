"""The seed's classes in ``typed_llm.openai_utils``: OpenAIClient, AzureClient, send_message, registry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel

import typed_llm
from helpers import FAKE_OPENAI_KEY
from seed_fixtures import seed_fake, seed_registry  # noqa: F401  (fixtures: pytest finds them here)
from typed_llm import ConfigurationError, OutputValidationError, TypedLLMError, openai_utils
from typed_llm._compat import registry as _registry

if TYPE_CHECKING:
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI


class Capital(BaseModel):
    """A country's capital."""

    city: str
    country: str


# A seed-style subclass, as TinyTroupe code writes them; only the import line differs from the seed.
SEED_SUBCLASS = '''
from typed_llm import openai_utils


class ShoutingClient(openai_utils.OpenAIClient):
    """Counts its calls and shouts its answers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def send_message(self, current_messages, *args, **kwargs):
        self.calls += 1
        return super().send_message(current_messages, *args, **kwargs)

    def _raw_model_call(self, model, chat_api_params):
        chat_api_params["temperature"] = 0.0
        return super()._raw_model_call(model, chat_api_params)

    def _raw_model_response_extractor(self, response):
        message = super()._raw_model_response_extractor(response)
        message["content"] = message["content"].upper()
        return message


openai_utils.register_client("shouting", ShoutingClient())
openai_utils.force_api_type("shouting")
answer = openai_utils.client().send_message([{"role": "user", "content": "say hi"}])
print(answer["content"])
print(openai_utils.client().calls)
print(len(openai_utils.get_embedding("a tiny troupe")))
'''


def test_seed_style_subclass_of_openai_client_runs_unchanged(
    fake: FakeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """A subclass overriding send_message and the seed's hooks works; its overrides take effect."""
    exec(compile(SEED_SUBCLASS, "seed_subclass.py", "exec"), {})  # noqa: S102  (seed-style code, run verbatim)
    content, calls, dimension = capsys.readouterr().out.splitlines()
    assert content == content.upper()
    assert content
    assert calls == "1"
    assert int(dimension) > 0
    assert fake.received[0].json()["temperature"] == 0.0  # the _raw_model_call override changed the dict
    assert fake.received[1].path.endswith("/embeddings")


@pytest.mark.usefixtures("fake")
def test_the_seed_classes_are_typed_clients_too() -> None:
    """openai_utils.OpenAIClient has the seed's methods and is a typed Client (LLMCall takes it)."""
    seed = openai_utils.OpenAIClient()
    for name in ("send_message", "get_embedding", "set_api_cache", "get_cost_stats", "_raw_model_call"):
        assert callable(getattr(seed, name))
    assert issubclass(openai_utils.AzureClient, openai_utils.OpenAIClient)
    call = typed_llm.LLMCall("You are terse.", "Name {{thing}}.", client=seed, model="gpt-4o-mini")
    assert isinstance(call.call(thing="a colour"), str)
    assert isinstance(seed.client, typed_llm.OpenAIClient)  # built from the settings on first use
    seed.send_message([{"role": "user", "content": "hi"}])
    stats = seed.get_cost_stats()
    assert stats["model_calls"] == 1
    assert stats["total_tokens"] == stats["input_tokens"] + stats["output_tokens"] > 0


def test_a_subclass_that_builds_an_openai_package_client_is_told_what_to_build(fake: FakeAPI) -> None:
    """A _setup_from_config that sets the openai package's client: a clear ConfigurationError."""

    class Raw(openai_utils.OpenAIClient):
        def _setup_from_config(self) -> None:
            self.client = object()  # type: ignore[assignment]  # what a seed subclass did: not a typed client

    with pytest.raises(ConfigurationError, match=r"must be a typed_llm client .* not the openai package"):
        Raw().send_message([{"role": "user", "content": "hi"}])
    assert fake.received == []


class OnlySendMessage:
    """A seed-style object with send_message and nothing else."""

    def send_message(self, current_messages: object) -> dict[str, object]:
        return {"role": "assistant", "content": "hi"}


def test_register_client_refuses_an_object_that_lacks_methods() -> None:
    """An object with only send_message: a TypedLLMError at registration, saying what it lacks."""
    with pytest.raises(ConfigurationError) as caught:
        openai_utils.register_client("partial", OnlySendMessage())
    assert isinstance(caught.value, TypedLLMError)
    message = str(caught.value)
    assert "register_client('partial', OnlySendMessage)" in message
    assert "send_message and get_embedding" in message
    assert "it has send_message only" in message
    with pytest.raises(ConfigurationError, match="it has none of them"):
        openai_utils.register_client("nothing", 42)


def test_a_builder_is_checked_when_it_builds() -> None:
    """A builder returning something that is no client: the same error, on first use."""
    openai_utils.register_client("lazy", OnlySendMessage)
    openai_utils.force_api_type("lazy")
    with pytest.raises(ConfigurationError, match="it has send_message only"):
        openai_utils.client()


@pytest.mark.usefixtures("fake")
def test_a_seed_only_client_is_refused_where_a_typed_one_is_needed() -> None:
    """Seed-style clients serve the facade; typed_client() (what LLMCall uses) says why it cannot."""

    class SeedOnly(OnlySendMessage):
        def get_embedding(self, text: str, model: str | None = None) -> list[float]:
            return [0.0]

    openai_utils.register_client("seed-only", SeedOnly())
    openai_utils.force_api_type("seed-only")
    assert openai_utils.client().send_message([{"role": "user", "content": "hi"}])["content"] == "hi"
    with pytest.raises(ConfigurationError, match="seed-style only"):
        openai_utils.typed_client()
    with pytest.raises(ConfigurationError, match="seed-style only"):
        typed_llm.LLMCall("s", "u").call()


def test_client_returns_the_same_seed_client_each_time(
    fake: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default client, in the seed's class; the same object on every call (its stats add up)."""
    first = openai_utils.client()
    assert type(first) is openai_utils.OpenAIClient
    assert openai_utils.client() is first
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-test-key-0123456789")
    openai_utils.force_api_type("azure")
    azure = openai_utils.client()
    assert type(azure) is openai_utils.AzureClient
    assert isinstance(azure.client, typed_llm.AzureClient)


def _sent(fake: FakeAPI, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = fake.received[index].json()
    return body


def test_send_message_second_positional_is_dedent_messages(fake: FakeAPI) -> None:
    """As in the seed: positional order current_messages, dedent_messages, model, temperature, limit."""
    prompt = """
        You are a poet.
            Write one line.
    """
    messages = [{"role": "user", "content": prompt}]
    openai_utils.client().send_message(messages, True, "gpt-4o", 0.5, 40)
    sent = _sent(fake)
    assert sent["messages"][0]["content"] == "You are a poet.\n    Write one line."
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("gpt-4o", 0.5, 40)
    assert messages[0]["content"] == prompt  # the caller's dicts are not changed
    openai_utils.client().send_message(messages, False)
    assert _sent(fake)["messages"][0]["content"] == prompt


def test_send_message_json_object_response_format(fake: FakeAPI) -> None:
    """response_format={"type": "json_object"} is sent as it is; the answer is the seed's dict."""
    message = openai_utils.client().send_message(
        [{"role": "user", "content": "Answer in JSON: what is the capital of France?"}],
        response_format={"type": "json_object"},
    )
    assert _sent(fake)["response_format"] == {"type": "json_object"}
    assert message["role"] == "assistant"
    assert isinstance(json.loads(message["content"]), dict)  # the fake answers JSON mode with JSON


def test_send_message_pydantic_return(fake: FakeAPI) -> None:
    """With a model: the dict holds ``parsed``; with enable_pydantic_model_return=True, the model itself."""
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    as_dict = openai_utils.client().send_message(messages, response_format=Capital)
    assert isinstance(as_dict["parsed"], Capital)
    assert _sent(fake)["response_format"]["json_schema"]["name"] == "Capital"
    as_model = openai_utils.client().send_message(
        messages, response_format=Capital, enable_pydantic_model_return=True
    )
    assert isinstance(as_model, Capital)
    assert as_model == as_dict["parsed"]
    plain = openai_utils.client().send_message(messages, enable_pydantic_model_return=True)
    assert isinstance(plain, dict)  # no model asked for: the dict, as in the seed


def test_send_message_token_limit_by_either_seed_name(fake: FakeAPI) -> None:
    """max_tokens (the older seed) and max_completion_tokens (the newer) both set the limit."""
    client = openai_utils.client()
    client.send_message([{"role": "user", "content": "hi"}], max_tokens=30)
    assert _sent(fake)["max_tokens"] == 30
    client.send_message([{"role": "user", "content": "hi"}], max_completion_tokens=31)
    assert _sent(fake)["max_completion_tokens"] == 31
    assert "max_tokens" not in _sent(fake)
    with pytest.raises(openai_utils.InvalidRequestError, match="not both"):
        client.send_message([{"role": "user", "content": "hi"}], max_tokens=30, max_completion_tokens=40)


def test_send_message_per_call_timeout_and_retries_apply(fake: FakeAPI) -> None:
    """timeout, max_attempts, waiting_time and exponential_backoff_factor apply to that call only."""
    from typed_llm.testing import FakeReply  # noqa: PLC0415

    fake.enqueue(
        FakeReply.error(500, "boom", type="server_error"), FakeReply.error(500, "boom", type="server_error")
    )
    client = openai_utils.client()
    with pytest.raises(TypedLLMError) as caught:
        client.send_message([{"role": "user", "content": "hi"}], max_attempts=2, waiting_time=0.0)
    assert isinstance(caught.value, typed_llm.RetriesExhaustedError)
    assert len(caught.value.attempts) == 2
    assert len(fake.received) == 2
    with pytest.raises(openai_utils.InvalidRequestError, match="max_attempts"):
        client.send_message([{"role": "user", "content": "hi"}], max_attempts=0)


def test_send_message_stop_n_and_echo_as_in_the_seed(fake: FakeAPI) -> None:
    """stop as a string or a list, n, and echo (accepted and ignored by the seed too)."""
    client = openai_utils.client()
    client.send_message([{"role": "user", "content": "hi"}], stop="END", n=1, echo=True)
    assert _sent(fake)["stop"] == ["END"]
    assert "echo" not in _sent(fake)
    client.send_message([{"role": "user", "content": "hi"}], stop=["A", "B"])
    assert _sent(fake)["stop"] == ["A", "B"]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"temperature": 5.0}, "temperature"),
        ({"n": 0}, "n"),
        ({"response_format": "json"}, "response_format"),
        ({"response_format": {"type": "yaml"}}, "response_format"),
        ({"model": 3}, "model"),
    ],
    ids=["temperature", "n", "format-string", "format-type", "model"],
)
def test_bad_facade_parameters_raise_a_typed_error(
    fake: FakeAPI, arguments: dict[str, Any], named: str
) -> None:
    """Bad parameters: InvalidRequestError (a TypedLLMError, not pydantic's), naming them; nothing sent."""
    with pytest.raises(TypedLLMError) as caught:
        openai_utils.client().send_message([{"role": "user", "content": "hi"}], **arguments)
    assert isinstance(caught.value, openai_utils.InvalidRequestError)
    assert named in str(caught.value)
    assert fake.received == []


def test_bad_messages_and_embedding_input_raise_a_typed_error(fake: FakeAPI) -> None:
    """Messages that are not message dicts, an empty model: InvalidRequestError, nothing sent."""
    client = openai_utils.client()
    with pytest.raises(openai_utils.InvalidRequestError, match="list of message dicts"):
        client.send_message("hello")  # type: ignore[arg-type]  # what the test is about
    with pytest.raises(openai_utils.InvalidRequestError, match="messages"):
        client.send_message([{"role": "wizard", "content": "hi"}])
    with pytest.raises(openai_utils.InvalidRequestError, match="model"):
        openai_utils.get_embedding("text", model="")
    with pytest.raises(openai_utils.InvalidRequestError):
        typed_llm.LLMCall("s", "u", model="gpt-4o-mini", temperature=9.0).request()
    assert fake.received == []


def test_structured_output_that_does_not_validate_raises(fake: FakeAPI) -> None:
    """Where the seed returned the raw dict on a validation failure, the facade raises a typed error."""
    from typed_llm.testing import FakeReply  # noqa: PLC0415

    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": '{"city": 1}'}, "finish_reason": "stop"}
        ],
    }
    fake.enqueue(FakeReply(status=200, body=body))
    with pytest.raises(OutputValidationError):
        openai_utils.client().send_message(
            [{"role": "user", "content": "hi"}], response_format=Capital, enable_pydantic_model_return=True
        )


# The [OpenAI] section of a current TinyTroupe config.ini: every key its ConfigManager reads.
CURRENT_SEED_CONFIG = """
[OpenAI]
API_TYPE=openai
AZURE_API_VERSION=2024-12-01-preview
MODEL=gpt-4o-mini
REASONING_MODEL=o3-mini
EMBEDDING_MODEL=text-embedding-3-small
AZURE_EMBEDDING_MODEL_API_VERSION=2023-05-15
MAX_COMPLETION_TOKENS=3200
TIMEOUT=480
MAX_ATTEMPTS=5
WAITING_TIME=1
EXPONENTIAL_BACKOFF_FACTOR=5
MAX_CONCURRENT_MODEL_CALLS=4
REASONING_EFFORT=high
FREQ_PENALTY=0.1
PRESENCE_PENALTY=0.1
CACHE_API_CALLS=False
CACHE_FILE_NAME=openai_api_cache.pickle
MAX_CONTENT_DISPLAY_LENGTH=4000

[Simulation]
PARALLEL_AGENT_ACTIONS=True

[Logging]
LOGLEVEL=ERROR
"""


def test_a_current_seed_config_ini_is_accepted_with_its_meaning(tmp_path: Path) -> None:
    """REASONING_MODEL, MAX_COMPLETION_TOKENS, MAX_CONCURRENT_MODEL_CALLS, REASONING_EFFORT: settings."""
    config = tmp_path / "config.ini"
    config.write_text(CURRENT_SEED_CONFIG)
    settings = typed_llm.Settings.load(config, environ={})
    assert settings.reasoning_model == "o3-mini"
    assert settings.max_completion_tokens == 3200
    assert settings.output_limit == 3200
    assert settings.max_concurrent_model_calls == 4
    assert settings.reasoning_effort == "high"
    assert settings.frequency_penalty == 0.1  # the seed's FREQ_PENALTY
    assert settings.azure_embedding_model_api_version == "2023-05-15"
    assert settings.max_content_display_length == 4000
    none = tmp_path / "none.ini"
    none.write_text("[OpenAI]\nMAX_CONCURRENT_MODEL_CALLS=NONE\nBASE_URL=http://127.0.0.1:11434/v1\n")
    loaded = typed_llm.Settings.load(none, environ={})
    assert loaded.max_concurrent_model_calls is None
    assert loaded.base_url == "http://127.0.0.1:11434/v1"


def test_unknown_and_bad_seed_keys_are_still_refused(tmp_path: Path) -> None:
    """A key the seed never had, a bad effort, both spellings of a key: SettingsError naming each."""
    config = tmp_path / "config.ini"
    config.write_text(
        "[OpenAI]\nREASONING_EFFORT=extreme\nMAX_COMPLETION_TOKENS=-1\nFAVOURITE_COLOUR=blue\n"
        "FREQ_PENALTY=0.1\nFREQUENCY_PENALTY=0.2\n"
    )
    with pytest.raises(typed_llm.SettingsError) as caught:
        typed_llm.Settings.load(config, environ={})
    keys = {key for key, _, _ in caught.value.problems}
    assert keys == {"reasoning_effort", "max_completion_tokens", "favourite_colour", "freq_penalty"}


def test_seed_config_keys_take_effect_on_calls(fake: FakeAPI, tmp_path: Path) -> None:
    """MAX_COMPLETION_TOKENS is the limit sent; REASONING_EFFORT goes with reasoning models only."""
    (tmp_path / "config.ini").write_text(
        "[OpenAI]\nMODEL=gpt-4o-mini\nMAX_COMPLETION_TOKENS=300\nREASONING_EFFORT=low\nREASONING_MODEL=o3-mini\n"
    )
    client = openai_utils.client()
    client.send_message([{"role": "user", "content": "hi"}])
    sent = _sent(fake)
    assert sent["max_completion_tokens"] == 300
    assert "max_tokens" not in sent
    assert "reasoning_effort" not in sent
    reasoning = _registry.settings().reasoning_model
    client.send_message([{"role": "user", "content": "think"}], model=reasoning)
    sent = _sent(fake)
    assert (sent["model"], sent["reasoning_effort"]) == ("o3-mini", "low")
    assert "temperature" not in sent  # reasoning models refuse it: left out, as the seed did


def test_base_url_setting_points_the_openai_client(
    fake: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BASE_URL (the seed's Ollama config) is the openai client's server."""
    monkeypatch.delenv("OPENAI_BASE_URL")
    (tmp_path / "config.ini").write_text(f"[OpenAI]\nBASE_URL={fake.openai_base_url}\n")
    openai_utils.client().send_message([{"role": "user", "content": "hi"}])
    assert len(fake.received) == 1


def test_azure_embedding_api_version_is_used_for_embeddings(
    fake: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AZURE_EMBEDDING_MODEL_API_VERSION: embeddings use it, chat keeps AZURE_API_VERSION."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-test-key-0123456789")
    (tmp_path / "config.ini").write_text(
        "[OpenAI]\nAPI_TYPE=azure\nAZURE_API_VERSION=2024-10-21\nAZURE_EMBEDDING_MODEL_API_VERSION=2023-05-15\n"
    )
    client = openai_utils.client()
    client.send_message([{"role": "user", "content": "hi"}])
    client.get_embedding("a tiny troupe")
    chat, embedding = fake.received
    assert chat.query["api-version"] == "2024-10-21"
    assert embedding.query["api-version"] == "2023-05-15"
    assert embedding.path.endswith("/embeddings")


def test_max_concurrent_model_calls_bounds_calls_in_flight(fake: FakeAPI) -> None:
    """With MAX_CONCURRENT_MODEL_CALLS=1 two threads' calls never overlap."""
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    in_flight: list[int] = []
    peak: list[int] = [0]
    lock = threading.Lock()

    class Counting(openai_utils.OpenAIClient):
        def _raw_model_call(self, model: str, chat_api_params: dict[str, Any]) -> typed_llm.ChatResponse:
            with lock:
                in_flight.append(1)
                peak[0] = max(peak[0], len(in_flight))
            time.sleep(0.05)
            try:
                return super()._raw_model_call(model, chat_api_params)
            finally:
                with lock:
                    in_flight.pop()

    client = Counting(max_concurrent_model_calls=1)
    threads = [
        threading.Thread(target=client.send_message, args=([{"role": "user", "content": "hi"}],))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.received) == 3
    assert peak[0] == 1


def test_force_api_cache_with_a_bad_value_is_a_settings_error() -> None:
    """A value forced through the facade is checked like a config.ini one: SettingsError, a TypedLLMError."""
    openai_utils.force_api_cache(True, "")
    with pytest.raises(typed_llm.SettingsError) as caught:
        openai_utils.client()
    assert isinstance(caught.value, TypedLLMError)
    assert [(key, source) for key, source, _ in caught.value.problems] == [("cache_file_name", "argument")]


def test_send_message_per_call_timeout_applies(fake: FakeAPI) -> None:
    """timeout= bounds that call's attempt (the seed's per-call timeout), not the client's others."""
    from typed_llm.testing import FakeReply  # noqa: PLC0415

    fake.enqueue(FakeReply(status=200, body={}, delay=3.0))
    client = openai_utils.client()
    with pytest.raises(TypedLLMError) as caught:
        client.send_message([{"role": "user", "content": "hi"}], timeout=0.5, max_attempts=1)
    assert isinstance(caught.value, typed_llm.APITimeoutError | typed_llm.RetriesExhaustedError)
    assert client.send_message([{"role": "user", "content": "hi"}])["content"]  # the usual client again


def test_per_call_options_on_a_subclass_that_builds_its_own_client(fake: FakeAPI) -> None:
    """A subclass's own typed client cannot take per-call retries: InvalidRequestError, not a silent no-op."""

    class Own(openai_utils.OpenAIClient):
        def _setup_from_config(self) -> None:
            self.client = typed_llm.OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)

    own = Own()
    assert own.send_message([{"role": "user", "content": "hi"}])["content"]
    with pytest.raises(
        openai_utils.InvalidRequestError, match="per-call max_attempts needs a client the facade builds"
    ):
        own.send_message([{"role": "user", "content": "hi"}], max_attempts=2)
    assert len(fake.received) == 1


def test_count_tokens_hook_as_in_the_seed() -> None:
    """_count_tokens(messages, model): the prompt's tokens, offline; None for what is not a message."""
    seed = openai_utils.OpenAIClient()
    counted = seed._count_tokens([{"role": "user", "content": "Hello, typed world"}], "gpt-4o-mini")
    assert counted == typed_llm.count_message_tokens(
        (typed_llm.UserMessage(content="Hello, typed world"),), "gpt-4o-mini"
    )
    assert seed._count_tokens([{"role": "wizard"}], "gpt-4o-mini") is None


def test_a_template_that_does_not_parse_is_a_typed_error() -> None:
    """LLMCall with a broken template: InvalidRequestError (a TypedLLMError), not jinja2's exception."""
    with pytest.raises(openai_utils.InvalidRequestError, match="invalid LLMCall template"):
        openai_utils.LLMCall("You are {{ tone", "Say {{word}}.")
