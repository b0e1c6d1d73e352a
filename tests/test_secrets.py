"""No credential is ever written to a cassette.

Clients are built with seeded fake keys and tokens, traffic is recorded against the loopback fake into
a fresh folder, and every byte written is searched for the seeds. The project's own cassettes are
searched for anything key-shaped too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx2
import pytest

from helpers import CASSETTES, FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import AzureClient, ChatRequest, EmbeddingRequest, OpenAIClient, UserMessage
from typed_llm._cli import main
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._vcr import make_vcr, scan

if TYPE_CHECKING:
    from pathlib import Path

TOKEN = "entra-token-SEEDED-0123456789"
QUERY_KEY = "query-param-key-0123456789abcdef"
REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),))
KEY_SHAPED = re.compile(r"sk-[A-Za-z0-9_-]{16,}|SEEDED|Bearer\s+\S{8,}")


def _record_everything(folder: Path) -> None:
    with FakeAPI() as fake, make_vcr(folder, "all").use_cassette("secrets.yaml"):
        openai_client = OpenAIClient(
            api_key=FAKE_OPENAI_KEY,
            base_url=fake.openai_base_url,
            organization="org-SEEDED",
            project="proj-SEEDED",
        )
        openai_client.complete(REQUEST)
        openai_client.embed(EmbeddingRequest(model="text-embedding-3-small", input=("x",)))
        AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY).complete(REQUEST)
        AzureClient(endpoint=fake.url, api_key=FAKE_AZURE_KEY, api_version="v1").complete(REQUEST)
        AzureClient(endpoint=fake.url, token_provider=lambda: TOKEN).complete(REQUEST)
        # vcrpy logs request URIs at DEBUG, so this key is not a SEEDED one (the suite's log guard
        # would rightly fail on it); configure_logging's redaction removes api-key= values.
        httpx2.post(
            f"{fake.url}/openai/deployments/d/chat/completions?api-version=2024-10-21&api-key={QUERY_KEY}",
            content=REQUEST.model_dump_json().encode(),
            headers={"cookie": "session=SEEDED"},
        )


def test_seeded_keys_never_reach_a_cassette(tmp_path: Path) -> None:
    """Keys, tokens, org/project ids, cookies and api-key query parameters are scrubbed before writing."""
    _record_everything(tmp_path)
    written = (tmp_path / "secrets.yaml").read_text()
    assert written.count("interactions:") == 1
    assert written.count("- request:") == 6
    for secret in (
        FAKE_OPENAI_KEY,
        FAKE_AZURE_KEY,
        TOKEN,
        QUERY_KEY,
        "org-SEEDED",
        "proj-SEEDED",
        "session=SEEDED",
    ):
        assert secret not in written
    assert not KEY_SHAPED.search(written)
    assert "authorization" not in written.lower()
    assert "api-key:" not in written


def test_scrubbed_cassette_still_replays(tmp_path: Path) -> None:
    """Scrubbing keeps the cassette usable: it replays without the fake."""
    with FakeAPI() as fake, make_vcr(tmp_path, "all").use_cassette("c.yaml"):
        recorded = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url).complete(REQUEST)
    with make_vcr(tmp_path, "none").use_cassette("c.yaml") as cassette:
        replayed = OpenAIClient(api_key="sk-test-other", base_url="http://127.0.0.1:9/v1").complete(REQUEST)
        assert cassette.all_played
    assert replayed == recorded


def test_project_cassettes_hold_no_key() -> None:
    """Nothing key-shaped, and no credential header, in any cassette the project ships."""
    files = sorted(CASSETTES.rglob("*.yaml")) + sorted((CASSETTES.parent / "sdk").rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        assert not KEY_SHAPED.search(text), path
        assert not re.search(r"^\s+(authorization|api-key):", text, re.IGNORECASE | re.MULTILINE), path


AZURE_HEX_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
AZURE_84_KEY = "A1b2C3d4" * 6 + "E5f6" + "JQQJ99" + "B" + "A" + "CYeBjFXJ3w3AAAAA" + "C" + "OGabcde"
ENTRA_JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJjb2duaXRpdmUifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
STRANGER_JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzb21lb25lIn0.b3RoZXItc2lnbmF0dXJlLXZhbHVl"
"""A token no client of the test was given, pasted into a prompt: scrubbed by its shape."""


def _prompt(secret: str) -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=f"why does {secret} fail?"),))


def test_the_clients_own_credentials_are_scrubbed_wherever_they_appear(tmp_path: Path) -> None:
    """Azure keys (both forms) and Entra tokens in a prompt and in the server's echo never reach the file."""
    assert len(AZURE_84_KEY) == 84
    with FakeAPI() as fake, make_vcr(tmp_path, "all").use_cassette("own.yaml"):
        AzureClient(endpoint=fake.url, api_key=AZURE_HEX_KEY).complete(_prompt(AZURE_HEX_KEY))
        AzureClient(endpoint=fake.url, api_key=AZURE_84_KEY, api_version="v1").complete(_prompt(AZURE_84_KEY))
        AzureClient(endpoint=fake.url, token_provider=lambda: ENTRA_JWT).complete(_prompt(ENTRA_JWT))
        AzureClient(endpoint=fake.url, api_key=AZURE_HEX_KEY).complete(_prompt(STRANGER_JWT))
    written = (tmp_path / "own.yaml").read_text()
    assert written.count("Echo: why does REDACTED fail?") == 4  # the echoes, scrubbed too
    for secret in (AZURE_HEX_KEY, AZURE_84_KEY, ENTRA_JWT, STRANGER_JWT):
        assert secret not in written
    assert scan(tmp_path) == []


def test_a_cassette_scrubbed_of_the_clients_key_still_replays(tmp_path: Path) -> None:
    """Scrubbing applies to the request being matched too, so a prompt holding the key replays."""
    with FakeAPI() as fake, make_vcr(tmp_path, "all").use_cassette("c.yaml"):
        recorded = AzureClient(endpoint=fake.url, api_key=AZURE_HEX_KEY).complete(_prompt(AZURE_HEX_KEY))
    with make_vcr(tmp_path, "none").use_cassette("c.yaml") as cassette:
        client = AzureClient(endpoint="http://127.0.0.1:9", api_key=AZURE_HEX_KEY)
        replayed = client.complete(_prompt(AZURE_HEX_KEY))
        assert cassette.all_played
    assert recorded.text == f"Echo: why does {AZURE_HEX_KEY} fail?"  # the live caller gets the answer whole
    assert replayed.text == "Echo: why does REDACTED fail?"


SHAPES = {
    "azure-hex": (f'string: \'{{"note": "{AZURE_HEX_KEY}"}}\'', "32 hex digits"),
    "azure-84": (f"string: '{AZURE_84_KEY}'", "84-character form"),
    "jwt": (f"string: 'token {STRANGER_JWT}'", "a JWT"),
    "openai": ("string: 'sk-proj-abcdefghijklmnopqrstuvwxyz012345'", "OpenAI-shaped key"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_scanner_finds_every_key_shape(tmp_path: Path, shape: str) -> None:
    """`typed-llm cassettes check` fails on an Azure key (32 hex / 84 chars), a JWT and an OpenAI key."""
    line, why = SHAPES[shape]
    (tmp_path / "leak.yaml").write_text(f"interactions:\n- response:\n    body:\n      {line}\n")
    findings = scan(tmp_path)
    assert [(number, reason) for _, number, reason in findings if why in reason] == [(4, findings[0][2])]
    assert main(["--log-level", "warning", "cassettes", "check", str(tmp_path)]) == 1


def test_the_scanner_leaves_request_ids_alone(tmp_path: Path) -> None:
    """32 hex digits under an id header or an id field are a request id, not a key."""
    (tmp_path / "ids.yaml").write_text(
        "interactions:\n- response:\n    headers:\n      x-request-id:\n"
        f'      - {AZURE_HEX_KEY}\n    body:\n      string: \'{{"id": "{AZURE_HEX_KEY}"}}\'\n'
    )
    assert scan(tmp_path) == []
