"""A cache hit costs only the lookup: no token count, no tokenizer loaded, not even tiktoken imported.

The pre-flight check (``_layers/preflight.py``) sits inside the caching layer, so it runs on a miss
only, just before a request is sent; the tokenizer is loaded by the first count. Each case runs in
a fresh interpreter, the only place where "nothing was loaded" can be seen whole.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from helpers import FAKE_OPENAI_KEY
from typed_llm import ChatRequest, OpenAIClient, SQLiteCache, UserMessage

if TYPE_CHECKING:
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI

CALLS = """
import asyncio, json, sys
from typed_llm import AsyncOpenAIClient, ChatRequest, OpenAIClient, SQLiteCache, UserMessage
from typed_llm import _tokens

path, base_url, key, prompt = sys.argv[1:5]
request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=prompt),))
client = OpenAIClient(api_key=key, base_url=base_url, cache=SQLiteCache(path))
texts = [client.complete(request).text for _ in range(3)]
with client.stream(request) as stream:
    texts.append(stream.final_response().text)

async def run_async() -> str:
    async with AsyncOpenAIClient(api_key=key, base_url=base_url, cache=SQLiteCache(path)) as aclient:
        return (await aclient.complete(request)).text

texts.append(asyncio.run(run_async()))
print(json.dumps({
    "texts": texts,
    "encodings_loaded": _tokens._load.cache_info().currsize,
    "tiktoken_imported": "tiktoken" in sys.modules,
}))
"""
"""A fresh process's calls (sync, streamed, async) of one request through an SQLite cache."""


def _run_calls(path: Path, fake: FakeAPI, prompt: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CALLS, str(path), fake.openai_base_url, FAKE_OPENAI_KEY, prompt],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _prime(path: Path, fake: FakeAPI, prompt: str) -> str:
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=SQLiteCache(path))
    request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=prompt),))
    text = client.complete(request).text
    client.close()
    return text


def test_a_hit_only_process_loads_no_tokenizer(tmp_path: Path, fake: FakeAPI) -> None:
    """Sync, streamed and async hits in a fresh process: answered, nothing sent, nothing tokenized."""
    path = tmp_path / "c.sqlite3"
    text = _prime(path, fake, "cached before this process started")
    sent = len(fake.received)
    result = _run_calls(path, fake, "cached before this process started")
    assert result == {"texts": [text] * 5, "encodings_loaded": 0, "tiktoken_imported": False}
    assert len(fake.received) == sent


def test_a_miss_loads_the_tokenizer_before_it_sends(tmp_path: Path, fake: FakeAPI) -> None:
    """The same process on a request not in the cache: checked (tokenizer loaded), sent once."""
    path = tmp_path / "c.sqlite3"
    _prime(path, fake, "another question")
    sent = len(fake.received)
    result = _run_calls(path, fake, "a question nobody asked before")
    assert result["encodings_loaded"] == 1
    assert result["tiktoken_imported"] is True
    # The first complete() misses and is sent; the rest (the stream too) replay what it stored.
    assert len(fake.received) == sent + 1
