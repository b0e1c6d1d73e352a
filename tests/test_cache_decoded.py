"""A hot entry is decoded once: later hits on the same bytes get a copy of the answer decoded before.

What a user must see is unchanged: every hit is an answer of its own (its own ledger and price tag),
equal to the stored one, for every backend; a damaged entry is a miss each time it is read; and
the memo is bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from helpers import FAKE_OPENAI_KEY
from typed_llm import ChatRequest, ChatResponse, MemoryCache, OpenAIClient, SQLiteCache, UserMessage
from typed_llm._cache import entry

if TYPE_CHECKING:
    from pathlib import Path

    from typed_llm.testing._fake import FakeAPI


@pytest.fixture
def empty_memo() -> None:
    entry._decoded.clear()


def _request(text: str = "Say hello to the cache.") -> ChatRequest:
    return ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content=text),), temperature=0.0)


@pytest.mark.usefixtures("empty_memo")
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_every_hit_is_an_answer_of_its_own(fake: FakeAPI, tmp_path: Path, backend: str) -> None:
    """Two hits on one entry: equal answers, distinct objects, each with its own one-attempt ledger."""
    cache = MemoryCache() if backend == "memory" else SQLiteCache(tmp_path / "cache.db")
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, cache=cache)
    paid = client.complete(_request())
    first, second = client.complete(_request()), client.complete(_request())
    assert len(fake.received) == 1
    assert first == second == paid
    assert first is not second
    assert first.choices is second.choices  # frozen parts are shared, the answer is not
    assert [a.outcome for a in first.attempts] == [a.outcome for a in second.attempts] == ["hit"]
    assert first.attempts is not second.attempts
    assert first.cost is not None
    assert first.cost == second.cost == paid.cost


@pytest.mark.usefixtures("empty_memo")
def test_an_answer_read_again_is_validated_once_and_copied(fake: FakeAPI) -> None:
    """The same bytes decode once; what is kept is never handed out, so no hit can change it."""
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    raw = entry.encode_entry(client.complete(_request()), request=None)
    answers = [entry.decode_answer(raw, ChatResponse) for _ in range(3)]
    kept = entry._decoded[(ChatResponse, raw)]
    assert len(entry._decoded) == 1
    assert all(a == kept and a is not kept for a in answers)
    assert len({id(a) for a in answers}) == 3
    # equal bytes that are another object (SQLite, Redis read a new copy) find the same entry
    assert entry.decode_answer(bytes(bytearray(raw)), ChatResponse) == kept
    assert len(entry._decoded) == 1


@pytest.mark.usefixtures("empty_memo")
def test_a_damaged_entry_is_refused_every_time_and_never_kept() -> None:
    """Bytes that are not an answer raise each time they are read, and nothing is remembered."""
    for _ in range(2):
        with pytest.raises(ValidationError):
            entry.decode_answer(b'{"provenance":{}, "response": {"id": 1}}', ChatResponse)
    assert entry._decoded == {}


@pytest.mark.usefixtures("empty_memo")
def test_the_memo_is_bounded(fake: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most DECODED_KEPT answers, the oldest forgotten first; an entry over DECODED_LONGEST
    bytes is decoded but never kept."""
    monkeypatch.setattr(entry, "DECODED_KEPT", 3)
    client = OpenAIClient(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url)
    raws = [entry.encode_entry(client.complete(_request(f"n{i}")), request=None) for i in range(5)]
    for raw in raws:
        entry.decode_answer(raw, ChatResponse)
    assert [key[1] for key in entry._decoded] == raws[2:]
    monkeypatch.setattr(entry, "DECODED_LONGEST", len(raws[0]) - 1)
    entry._decoded.clear()
    assert (
        entry.decode_answer(raws[0], ChatResponse).model_dump()
        == entry.decode_answer(raws[0], ChatResponse).model_dump()
    )
    assert entry._decoded == {}
