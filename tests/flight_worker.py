"""A worker process for the cross-process single-flight tests (run by test_single_flight.py).

Usage: python flight_worker.py REDIS_URL BASE_URL LEASE OUT [GO]

One ``complete`` through a client whose cache is the shared Redis; writes OUT (JSON): the answer's
text, whether it was shared, and the error class if the call failed. With GO (a file path), the
worker imports and builds its client, writes ``OUT.ready``, then waits for GO to exist before its
call: the test starts the call when it chooses, not when the interpreter happens to be up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from typed_llm import ChatRequest, NoRetry, OpenAIClient, RedisCache, TypedLLMError, UserMessage

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="one question for a fleet"),))


def main() -> None:
    url, base_url, lease, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])
    cache = RedisCache(url, lease=lease, flight_wait=30.0, timeout=2.0)
    client = OpenAIClient(api_key="sk-test-worker", base_url=base_url, cache=cache, backoff=NoRetry())
    if len(sys.argv) > 5:
        go = Path(sys.argv[5])
        out.with_name(out.name + ".ready").touch()
        deadline = time.monotonic() + 120
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{go} never appeared")
            time.sleep(0.005)
    try:
        response = client.complete(REQUEST)
    except TypedLLMError as error:
        result: dict[str, object] = {"error": type(error).__name__}
    else:
        result = {"text": response.text, "id": response.id}
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
