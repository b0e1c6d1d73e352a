"""Timeouts are checked where they are given: a client or a setting with a timeout no call can use fails
at once, with a typed error naming it, and nothing is sent.

``inf``, ``nan`` and negative numbers are floats, so a ``float`` annotation lets them through; before
this check every call then failed inside httpx with a raw ``OverflowError`` or ``ValueError``.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

import pytest

from helpers import FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import (
    AsyncAzureClient,
    AsyncOpenAIClient,
    AzureClient,
    ChatRequest,
    ChatResponse,
    ConfigurationError,
    ExponentialBackoff,
    OpenAIClient,
    Settings,
    SettingsError,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))

BAD_TIMEOUTS: list[tuple[str, object]] = [
    ("inf", float("inf")),
    ("minus inf", float("-inf")),
    ("nan", float("nan")),
    ("minus one", -1),
    ("zero", 0),
    ("zero float", 0.0),
    ("bool", True),
    ("string", "10"),
    ("none", None),
]


def _clients(fake: FakeAPI) -> dict[str, Callable[[object], object]]:
    """Each kind of client, built against the fake with the given timeout."""
    return {
        "openai": lambda t: OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, timeout=t),  # type: ignore[arg-type]  # bad values on purpose
        "async openai": lambda t: AsyncOpenAIClient(
            api_key=FAKE_OPENAI_KEY,
            base_url=fake.openai_base_url,
            timeout=t,  # type: ignore[arg-type]  # bad values on purpose
        ),
        "azure": lambda t: AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, timeout=t),  # type: ignore[arg-type]  # bad values on purpose
        "azure v1": lambda t: AzureClient(
            endpoint=fake.url,
            api_key=FAKE_AZURE_KEY,
            api_version="v1",
            timeout=t,  # type: ignore[arg-type]  # bad values on purpose
        ),
        "azure entra": lambda t: AzureClient(
            endpoint=fake.url,
            token_provider=lambda: "entra-test-token",
            timeout=t,  # type: ignore[arg-type]  # bad values on purpose
        ),
        "async azure": lambda t: AsyncAzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, timeout=t),  # type: ignore[arg-type]  # bad values on purpose
    }


KINDS = ["openai", "async openai", "azure", "azure v1", "azure entra", "async azure"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("case", "timeout"), BAD_TIMEOUTS, ids=[case for case, _ in BAD_TIMEOUTS])
def test_a_client_with_an_unusable_timeout_is_refused(
    fake: FakeAPI, kind: str, case: str, timeout: object
) -> None:
    """Every client kind refuses inf, nan, zero, negatives, bools and non-numbers at construction."""
    with pytest.raises(
        ConfigurationError, match=r"^timeout must be a positive, finite number of seconds, got "
    ):
        _clients(fake)[kind](timeout)
    assert fake.received == [], case


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("timeout", [5, 0.5, 600.0])
def test_usable_timeouts_are_accepted_and_calls_work(fake: FakeAPI, kind: str, timeout: float) -> None:
    """Positive finite ints and floats build a client whose calls go through."""
    client = _clients(fake)[kind](timeout)
    if isinstance(client, AsyncOpenAIClient | AsyncAzureClient):

        async def call(client: AsyncOpenAIClient | AsyncAzureClient) -> ChatResponse:
            async with client:
                return await client.complete(REQUEST)

        response = asyncio.run(call(client))
    else:
        assert isinstance(client, OpenAIClient | AzureClient)
        with client:
            response = client.complete(REQUEST)
    assert response.text
    assert len(fake.received) == 1


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "-1", "0"])
def test_config_ini_timeout_that_cannot_work_names_key_and_file(tmp_path: Path, value: str) -> None:
    """TIMEOUT = inf (or nan, -1, 0) in config.ini: a SettingsError naming the key and the file."""
    config = tmp_path / "config.ini"
    config.write_text(f"[OpenAI]\nTIMEOUT = {value}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, environ={})
    ((key, source, expected),) = caught.value.problems
    assert (key, source) == ("timeout", f"{config} [OpenAI] TIMEOUT")
    assert "finite" in expected or "greater than 0" in expected
    assert str(config) in str(caught.value)


def test_environment_timeout_that_cannot_work_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TYPED_LLM_TIMEOUT=nan: a SettingsError naming the variable."""
    monkeypatch.chdir(tmp_path)  # no ./config.ini
    with pytest.raises(SettingsError) as caught:
        Settings.load(None, environ={"TYPED_LLM_TIMEOUT": "nan"})
    ((key, source, expected),) = caught.value.problems
    assert (key, source) == ("timeout", "environment variable TYPED_LLM_TIMEOUT")
    assert "finite" in expected


@pytest.mark.parametrize("key", ["WAITING_TIME", "EXPONENTIAL_BACKOFF_FACTOR", "TEMPERATURE"])
def test_no_setting_takes_inf(tmp_path: Path, key: str) -> None:
    """inf in any numeric setting (a wait of inf would sleep for ever or overflow) is refused."""
    config = tmp_path / "config.ini"
    config.write_text(f"[OpenAI]\n{key} = inf\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        Settings.load(config, environ={})
    ((name, source, expected),) = caught.value.problems
    assert (name, source, expected) == (
        key.lower(),
        f"{config} [OpenAI] {key}",
        "Input should be a finite number",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout": math.inf},
        {"timeout": math.nan},
        {"timeout": True},
        {"timeout": -1.0},
        {"wait_initial": math.nan},
        {"wait_max": math.inf},
        {"wait_jitter": math.inf},
        {"retry_after_cap": math.nan},
        {"wait_exp_base": math.inf},
    ],
    ids=str,
)
def test_the_backoff_refuses_seconds_that_are_not_finite(bad: dict[str, object]) -> None:
    """ExponentialBackoff refuses inf, nan, bools and negative deadlines, naming the parameter."""
    with pytest.raises(ValueError, match=next(iter(bad))):
        ExponentialBackoff(**bad)  # type: ignore[arg-type]  # the misuse under test
