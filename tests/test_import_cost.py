"""What ``import typed_llm`` loads: models and types without the openai package, which comes with a client."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, sys
import typed_llm
from typed_llm import ChatRequest, EmbeddingRequest, UserMessage, count_message_tokens
import typed_llm.openai_utils
request = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hi"),), temperature=0.2)
EmbeddingRequest(model="text-embedding-3-small", input=("hi",))
before = {name: name in sys.modules for name in ("openai", "jinja2")}
typed_llm.LLMCall("You are {{tone}}.", "Say {{word}}.", model="gpt-4o-mini").request(tone="calm", word="hi")
after_template = "jinja2" in sys.modules
typed_llm.OpenAIClient(api_key="sk-test-import-probe", base_url="http://127.0.0.1:9/v1").close()
after_client = "openai" in sys.modules
print(json.dumps({**before, "jinja2_after_llmcall": after_template, "openai_after_client": after_client}))
"""


def test_models_and_types_import_without_openai() -> None:
    """``import typed_llm`` and building requests load neither openai nor jinja2; a client loads openai."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded == {
        "openai": False,
        "jinja2": False,
        "jinja2_after_llmcall": True,
        "openai_after_client": True,
    }
