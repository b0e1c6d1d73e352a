"""Settings, the client registry, LLMCall, and TinyTroupe's usage example through the facade."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel

from helpers import FAKE_OPENAI_KEY, replay
from typed_llm import (
    AzureClient,
    ChatRequest,
    LLMCall,
    OpenAIClient,
    Settings,
    SettingsError,
    SQLiteCache,
    TemplateVariableError,
    UnknownAPITypeError,
    UserMessage,
)
from typed_llm._compat import registry as _registry
from typed_llm.openai_utils import force_api_cache, force_api_type, register_client
from typed_llm.openai_utils import typed_client as client
from typed_llm.testing._fake import FakeAPI

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts from the registry as imported, in an empty folder (no config.ini)."""
    monkeypatch.chdir(tmp_path)
    _registry._reset()
    yield
    _registry._reset()


def _ini(path: Path, **values: str) -> Path:
    lines = "\n".join(f"{key} = {value}" for key, value in values.items())
    path.write_text(f"[OpenAI]\n{lines}\n")
    return path


def test_precedence_argument_environment_file_default(tmp_path: Path) -> None:
    """Per key: an argument beats the environment, which beats config.ini, which beats the default."""
    config = _ini(tmp_path / "seed.ini", MODEL="file-model", MAX_TOKENS="111", TEMPERATURE="0.3", TOP_P="0.5")
    environ = {"TYPED_LLM_MODEL": "env-model", "TYPED_LLM_MAX_TOKENS": "222", "TYPED_LLM_TEMPERATURE": "0.4"}
    settings = Settings.load(config, environ=environ, model="arg-model")
    assert settings.model == "arg-model"  # argument
    assert settings.max_tokens == 222  # environment over file
    assert settings.temperature == 0.4  # environment over file
    assert settings.top_p == 0.5  # file over default
    assert settings.presence_penalty == 0.0  # default
    assert Settings.load(environ={}).model == "gpt-4o-mini"


@pytest.mark.parametrize("variable", ["TYPED_LLM_CACHE_FILE_NAME", "TYPED_LLM_CACHE_FILE"])
def test_the_cache_file_name_from_the_environment(tmp_path: Path, variable: str) -> None:
    """``TYPED_LLM_CACHE_FILE_NAME`` (the TYPED_LLM_<KEY> rule) and its alias ``TYPED_LLM_CACHE_FILE``
    (the CLI's older name) both beat config.ini; an argument beats both; both at once is refused."""
    config = _ini(tmp_path / "seed.ini", CACHE_FILE_NAME="file.sqlite3")
    settings = Settings.load(config, environ={variable: "env.sqlite3"})
    assert settings.cache_file_name == "env.sqlite3"
    assert (
        Settings.load(config, environ={variable: "env.sqlite3"}, cache_file_name="arg").cache_file_name
        == "arg"
    )
    assert Settings.load(config, environ={}).cache_file_name == "file.sqlite3"
    both = {"TYPED_LLM_CACHE_FILE_NAME": "a.sqlite3", "TYPED_LLM_CACHE_FILE": "b.sqlite3"}
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, environ=both)
    assert caught.value.problems == (
        (
            "cache_file_name",
            "environment variable TYPED_LLM_CACHE_FILE",
            "one of TYPED_LLM_CACHE_FILE and TYPED_LLM_CACHE_FILE_NAME, not both",
        ),
    )


def test_config_ini_in_the_working_folder_is_read(tmp_path: Path) -> None:
    """With no path given, ./config.ini is read when it exists (and TYPED_LLM_CONFIG names another)."""
    _ini(tmp_path / "config.ini", MODEL="local-model")
    assert Settings.load(environ={}).model == "local-model"
    other = _ini(tmp_path / "other.ini", MODEL="other-model")
    assert Settings.load(environ={"TYPED_LLM_CONFIG": str(other)}).model == "other-model"


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    """Several bad values: one SettingsError listing each key, where it came from and what was expected."""
    config = _ini(
        tmp_path / "config.ini",
        API_TYPE="bing",
        TEMPERATURE="hot",
        MAX_TOKENS="-5",
        CACHE_API_CALLS="maybe",
        FAVOURITE_COLOUR="blue",
    )
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, environ={"TYPED_LLM_TOP_P": "2"})
    problems = {key: (source, expected) for key, source, expected in caught.value.problems}
    assert set(problems) == {
        "api_type",
        "temperature",
        "max_tokens",
        "cache_api_calls",
        "favourite_colour",
        "top_p",
    }
    assert problems["temperature"][0] == f"{config} [OpenAI] TEMPERATURE"
    assert "valid number" in problems["temperature"][1]
    assert "greater than 0" in problems["max_tokens"][1]
    assert "'openai' or 'azure'" in problems["api_type"][1]
    assert problems["top_p"][0] == "environment variable TYPED_LLM_TOP_P"
    assert problems["favourite_colour"][1] == "not a setting typed-llm knows"
    assert "6 invalid setting(s)" in str(caught.value)


def test_settings_build_the_configured_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings build the client of their API type with the seed's backoff and the SQLite cache."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    settings = Settings.load(environ={}, cache_api_calls=True, cache_file_name=str(tmp_path / "c.pickle"))
    assert isinstance(settings.build_client(), OpenAIClient)
    cache = settings.cache()
    assert isinstance(cache, SQLiteCache)
    assert cache.path == tmp_path / "c.sqlite3"
    assert settings.backoff().attempts == 5
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-test-key-0123456789")
    assert isinstance(settings.build_client("azure"), AzureClient)


def test_registry_unknown_type_lists_the_registered_ones() -> None:
    """An unknown API type is a typed error naming the types that are registered."""
    force_api_type("bedrock")
    with pytest.raises(UnknownAPITypeError) as caught:
        client()
    assert caught.value.registered == ("azure", "openai")
    assert "registered: azure, openai" in str(caught.value)


def test_registry_builds_lazily_once_and_accepts_custom_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults are built on first use (one instance, even from many threads); custom ones replace them."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    seen: list[object] = []

    def grab() -> None:
        seen.append(client())

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(instance) for instance in seen}) == 1
    assert isinstance(seen[0], OpenAIClient)
    custom = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1")
    register_client("local", custom)
    force_api_type("local")
    assert client() is custom
    built: list[int] = []

    def builder() -> OpenAIClient:
        built.append(1)
        return custom

    register_client("lazy", builder)
    force_api_type("lazy")
    assert client() is client() is custom
    assert built == [1]


def test_force_api_cache_rebuilds_the_defaults_with_a_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """force_api_cache(True, file) turns the SQLite cache on for the default clients."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    before = client()
    force_api_cache(True, str(tmp_path / "seed_cache.pickle"))
    after = client()
    assert after is not before
    assert _registry.settings().cache_api_calls is True
    assert (tmp_path / "seed_cache.sqlite3").exists()


class Verdict(BaseModel):
    """Whether a claim holds."""

    holds: bool
    reason: str


def test_llmcall_missing_variable_is_refused_before_sending() -> None:
    """A variable the template uses but the call lacks: TemplateVariableError naming it, nothing sent."""
    with FakeAPI() as fake:
        target = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        call = LLMCall("You judge {{topic}}.", "Is {{claim}} true?", client=target, model="gpt-4o-mini")
        assert call.variables == {"topic", "claim"}
        with pytest.raises(TemplateVariableError) as caught:
            call.call(topic="geography")
        assert caught.value.missing == ("claim",)
        assert fake.received == []


def test_llmcall_text_and_typed_output(tmp_path: Path) -> None:
    """Without output_type the text; with it the parsed model (via parse); templates may be files."""
    system = tmp_path / "system.md"
    system.write_text("You judge {{topic}} claims.")
    with FakeAPI() as fake:
        target = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
        text = LLMCall(system, "Is {{claim}} true?", client=target, model="gpt-4o-mini", max_tokens=50)
        assert text.call(topic="geography", claim="Paris is in France") == "Echo: Is Paris is in France true?"
        typed = LLMCall(system, "Is {{claim}} true?", Verdict, client=target, model="gpt-4o-mini")
        verdict = typed.call(topic="geography", claim="Paris is in France")
        assert verdict == Verdict(holds=True, reason="It is stated in the question.")
        sent: Any = fake.received[0].json()
        assert sent["messages"][0] == {"role": "system", "content": "You judge geography claims."}
        assert sent["max_tokens"] == 50
        structured: Any = fake.received[1].json()
        assert structured["response_format"]["json_schema"]["name"] == "Verdict"


SEED_EXAMPLE = """
from typed_llm import openai_utils

client = openai_utils.client()
message = client.send_message(current_messages=[{"role": "user", "content": "Say hello"}], max_tokens=50)
print(message["content"])
embedding = openai_utils.get_embedding("a tiny troupe")
print(type(embedding).__name__, len(embedding), type(embedding[0]).__name__)
"""


def test_seed_usage_example_runs_with_only_its_import_changed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """TinyTroupe's example, import line aside, runs against a cassette and returns the seed's shapes."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    with replay("settings/seed_usage_example") as endpoints:
        monkeypatch.setenv("OPENAI_BASE_URL", endpoints.openai_base_url)
        exec(compile(SEED_EXAMPLE, "seed_example.py", "exec"), {})  # noqa: S102  (the seed's own code, run verbatim)
    out = capsys.readouterr().out.splitlines()
    assert out == ["Echo: Say hello", "list 16 float"]


def test_send_message_returns_the_message_as_a_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    """send_message returns the seed's dict (role, content, refusal, tool_calls)."""
    from typed_llm import openai_utils  # noqa: PLC0415

    with FakeAPI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_base_url)
        message = openai_utils.client().send_message([{"role": "user", "content": "hi"}], temperature=0.0)
        assert message == {"role": "assistant", "content": "Echo: hi", "refusal": None, "tool_calls": None}
        body = fake.received[0].json()
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("gpt-4o-mini", 1024, 0.0)


def test_import_reads_no_key_writes_no_file_and_connects_nowhere(tmp_path: Path) -> None:
    """Importing typed_llm and the facade, no environment, no config.ini: no error, file or socket."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('a connection was opened')\n"
        "socket.socket.connect = refuse\n"
        "import typed_llm, typed_llm.openai_utils\n"
        "print('imported', len(typed_llm.__all__))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported")
    assert list(tmp_path.iterdir()) == []


def test_typed_request_from_settings_defaults() -> None:
    """LLMCall without a model uses the settings' model."""
    call = LLMCall("s", "u {{x}}")
    request = call.request(x=1)
    assert isinstance(request, ChatRequest)
    assert request.model == "gpt-4o-mini"
    assert request.messages[1] == UserMessage(content="u 1")


def test_content_display_length_setting_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    """MAX_CONTENT_DISPLAY_LENGTH (TYPED_LLM_MAX_CONTENT_DISPLAY_LENGTH) sets the debug content cut."""
    from typed_llm._logging import DEFAULT_MAX_CONTENT_LENGTH, cut  # noqa: PLC0415

    monkeypatch.setenv("TYPED_LLM_MAX_CONTENT_DISPLAY_LENGTH", "5")
    try:
        _registry.settings()
        assert cut("abcdefgh") == "abcde…"
    finally:
        from typed_llm._logging import set_max_content_length  # noqa: PLC0415

        set_max_content_length(DEFAULT_MAX_CONTENT_LENGTH)


def test_config_ini_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """UTF-8 with a BOM (what Windows editors write) reads like plain UTF-8."""
    config = tmp_path / "config.ini"
    config.write_bytes("\ufeff[OpenAI]\nMODEL = modèle-a\nMAX_TOKENS = 77\n".encode())
    settings = Settings.load(config, environ={})
    assert (settings.model, settings.max_tokens) == ("modèle-a", 77)


@pytest.mark.parametrize(
    ("case", "content", "expected"),
    [
        (
            "latin-1",
            "[OpenAI]\nMODEL = gpt-4o\n; café\n".encode("latin-1"),
            "byte 0xe9 on line 3 is not UTF-8",
        ),
        ("utf-16", "[OpenAI]\nMODEL = gpt-4o\n".encode("utf-16"), "it is UTF-16"),
        ("past 8 KiB", b"[OpenAI]\n" + b"; padding\n" * 1000 + b"MODEL = \xff\n", "byte 0xff on line 1002"),
    ],
    ids=["latin-1", "utf-16", "past 8 KiB"],
)
def test_config_ini_in_another_encoding_names_the_file(
    tmp_path: Path, case: str, content: bytes, expected: str
) -> None:
    """A config.ini that is not UTF-8: a SettingsError naming the file, the place and what to do."""
    config = tmp_path / "config.ini"
    config.write_bytes(content)
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, environ={})
    ((key, source, message),) = caught.value.problems
    assert (key, source) == ("config_file", str(config)), case
    assert expected in message
    assert message.endswith("save it as UTF-8")
    assert str(config) in str(caught.value)


def test_load_only_raises_only_the_problems_its_names_depend_on(tmp_path: Path) -> None:
    """A broken config.ini is refused by load() (the facade uses every setting), and by load_only()
    only when the file could give one of its names; otherwise it is returned, on one line, to report."""
    config = tmp_path / "config.ini"
    config.write_text("garbage\n[OpenAI\nMODEL = x\n")
    environ = {"TYPED_LLM_CACHE_FILE_NAME": "env.sqlite3"}
    with pytest.raises(SettingsError):
        Settings.load(config, environ=environ)
    settings, ignored = Settings.load_only("cache_file_name", config_file=config, environ=environ)
    assert settings.cache_file_name == "env.sqlite3"
    ((key, source, expected),) = ignored
    assert (key, source) == ("config_file", str(config))
    assert expected.startswith("a readable config.ini (File contains no section headers. file: ")
    assert "\n" not in expected
    for names, given in ((("cache_file_name",), {}), (("cache_file_name", "model"), environ)):
        with pytest.raises(SettingsError) as caught:
            Settings.load_only(*names, config_file=config, environ=given)
        assert [problem[:2] for problem in caught.value.problems] == [("config_file", str(config))]


def test_load_only_reads_its_names_from_the_file_and_reports_the_rest(tmp_path: Path) -> None:
    """A readable file's bad value elsewhere is returned; a bad value of a name asked for is raised."""
    config = _ini(tmp_path / "config.ini", CACHE_FILE_NAME="file.sqlite3", TEMPERATURE="hot", COLOUR="blue")
    settings, ignored = Settings.load_only("cache_file_name", config_file=config, environ={})
    assert settings.cache_file_name == "file.sqlite3"
    assert sorted(key for key, _, _ in ignored) == ["colour", "temperature"]
    with pytest.raises(SettingsError) as caught:
        Settings.load_only("cache_file_name", "temperature", config_file=config, environ={})
    assert [key for key, _, _ in caught.value.problems] == ["temperature"]
    both = {"TYPED_LLM_CACHE_FILE_NAME": "a.sqlite3", "TYPED_LLM_CACHE_FILE": "b.sqlite3"}
    with pytest.raises(SettingsError, match="not both"):
        Settings.load_only("cache_file_name", config_file=config, environ=both)
    with pytest.raises(ValueError, match="setting names"):
        Settings.load_only("cache_file", config_file=config, environ={})
