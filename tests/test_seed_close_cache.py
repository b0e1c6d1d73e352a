"""``openai_utils.close()`` with the cache on: the kept client goes on, and its cache with it.

``close()`` closes the cache files the facade's clients opened (``SQLiteCache.from_seed``), and keeps
the default client of an API type, which builds its typed client again on its next call. That next
call must find a cache open on the same file: the entry stored before ``close()`` answers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seed_fixtures import seed_fake, seed_registry  # noqa: F401  (fixtures: pytest finds them here)
from typed_llm import openai_utils

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from typed_llm.testing._fake import FakeAPI

QUESTION = [{"role": "user", "content": "Is the cache still there after close()?"}]


def test_a_kept_client_after_close_reads_the_entries_stored_before(
    fake: FakeAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stored, ``close()``, asked again through the kept client: a hit, no request, no cache error."""
    openai_utils.force_api_cache(True, str(tmp_path / "closed.sqlite3"))
    kept = openai_utils.client()
    first = kept.send_message(QUESTION)
    sent = len(fake.received)
    openai_utils.close()
    assert openai_utils.client() is kept
    caplog.clear()
    again = kept.send_message(QUESTION)
    assert again == first
    assert len(fake.received) == sent  # answered by the cache file stored before close()
    assert "cache_error" not in caplog.text
    assert kept.get_cost_stats()["cached_calls"] == 1
