"""No credential is ever written to a cassette.

Clients are built with seeded fake keys and tokens, traffic is recorded against the loopback fake into
a fresh folder, and every byte written is searched for the seeds. The project's own cassettes are
searched for anything key-shaped too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx2

from helpers import CASSETTES, FAKE_AZURE_KEY, FAKE_OPENAI_KEY
from typed_llm import AzureClient, ChatRequest, EmbeddingRequest, OpenAIClient, UserMessage
from typed_llm._fake import FakeAPI
from typed_llm._vcr import make_vcr

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
