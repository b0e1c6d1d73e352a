"""Validated on load (issue 21 item 5): a cassette that no longer fits the models fails as it loads.

A user's suite records a chat answer, a streamed chat answer and embeddings against the fake, then
the cassettes are edited by hand as a careless reviewer (or an SDK upgrade) would leave them. The
replay fails in the test's set-up, before its body runs, with ``CassetteValidationError`` naming
the file and the interaction; the opt-outs (per interaction, per cassette, the marker) and
``rewrite`` (which re-records what no longer fits) are run the same way, in this process.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from test_plugin import GUARD, _libraries_imported, run
from typed_llm import CassetteError, CassetteValidationError, TypedLLMError
from typed_llm.testing import StaleRecordingWarning
from typed_llm.testing._vcr import make_vcr

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["_libraries_imported"]  # the module fixture, shared with test_plugin.py

ROOT = Path(__file__).resolve().parent.parent / "cassettes"

SUITE = """
from pathlib import Path

import pytest
from typed_llm import ChatRequest, EmbeddingRequest, MalformedResponseError, OpenAIClient, UserMessage

KEY = "sk-test-validate-0123456789abcdef"
REQUEST = ChatRequest(model="gpt-4o-mini", messages=(UserMessage(content="hello there"),))


def ran(name):
    Path("ran-" + name).write_text("yes")


def test_chat(llm_cassette, llm_base_url):
    ran("chat")
    assert OpenAIClient(api_key=KEY, base_url=llm_base_url).complete(REQUEST).text == "Echo: hello there"


def test_stream(llm_cassette, llm_base_url):
    ran("stream")
    with OpenAIClient(api_key=KEY, base_url=llm_base_url).stream(REQUEST) as stream:
        assert stream.final_response().text == "Echo: hello there"


def test_embed(llm_cassette, llm_base_url):
    ran("embed")
    request = EmbeddingRequest(model="text-embedding-3-small", input=("a", "b"))
    assert len(OpenAIClient(api_key=KEY, base_url=llm_base_url).embed(request).vectors) == 2
"""


def _RENAME(text: str) -> str:  # noqa: N802  (read as a constant in the cases)
    return text.replace('"choices":', '"choicez":', 1)


@pytest.fixture
def recorded(pytester: pytest.Pytester) -> pytest.Pytester:
    """The suite, recorded once against the fake, and the markers of its bodies removed."""
    pytester.makeconftest(GUARD)
    pytester.makepyfile(test_user=SUITE)
    run(pytester, "--llm-record-mode=once").assert_outcomes(passed=3)
    for marker in pytester.path.glob("ran-*"):
        marker.unlink()
    return pytester


def _edit(
    pytester: pytest.Pytester, test: str, change: Callable[[str], str], *, opt_out: bool = False
) -> Path:
    """Change the recorded body of the test's one interaction as a hand edit would (and opt it out)."""
    path = pytester.path / "cassettes" / "test_user" / f"{test}.yaml"
    data = yaml.safe_load(path.read_text())
    response = data["interactions"][0]["response"]
    before = response["body"]["string"]
    response["body"]["string"] = change(before)
    assert response["body"]["string"] != before, "the edit changed nothing"
    if opt_out:
        response["typed_llm"] = {"validate": False}
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("test", "change", "model", "problem"),
    [
        pytest.param(
            "test_chat",
            lambda text: text.replace('"finish_reason": "stop"', '"finish_reason": 17', 1),
            "ChatResponse",
            "finish_reason",
            id="chat-field-of-the-wrong-type",
        ),
        pytest.param(
            "test_chat",
            _RENAME,
            "ChatResponse",
            "choices: Field required",
            id="chat-field-renamed",
        ),
        pytest.param(
            "test_stream",
            lambda text: text.replace('"choices":[{"index":0,', '"choices":[{"index":"zero",', 1),
            "a streamed ChatResponse",
            "choices",
            id="stream-frame-broken",
        ),
        pytest.param(
            "test_embed",
            lambda text: text.replace('"index": 1', '"index": 5', 1),
            "EmbeddingResponse",
            "expected vectors for inputs 0..1",
            id="embeddings-vector-lost",
        ),
    ],
)
def test_a_hand_edited_cassette_fails_naming_file_and_interaction_before_the_body_runs(
    recorded: pytest.Pytester, test: str, change: Callable[[str], str], model: str, problem: str
) -> None:
    """The edited test errors in set-up; its body never ran; the others replay as before."""
    _edit(recorded, test, change)
    result = run(recorded)
    result.assert_outcomes(passed=2, errors=1)
    output = result.stdout.str()
    assert f"ERROR at setup of {test}" in output
    assert "CassetteValidationError" in output
    assert f"cassette cassettes/test_user/{test}.yaml: interaction 1 (POST /v1/" in output
    assert f"no longer fits {model}: " in output
    assert problem in output
    assert not (recorded.path / f"ran-{test.removeprefix('test_')}").exists()


def test_a_response_marked_validate_false_loads_and_fails_only_when_the_test_reads_it(
    recorded: pytest.Pytester,
) -> None:
    """``typed_llm: {validate: false}`` in the recorded response: the body runs and meets the bad answer."""
    _edit(recorded, "test_chat", _RENAME, opt_out=True)
    result = run(recorded)
    result.assert_outcomes(passed=2, failed=1)
    assert "MalformedResponseError" in result.stdout.str()
    assert (recorded.path / "ran-chat").exists()


def test_the_marker_turns_validation_off_for_one_test(recorded: pytest.Pytester) -> None:
    """``@pytest.mark.llm_cassette(validate=False)``: the cassette loads unread."""
    _edit(recorded, "test_chat", _RENAME)
    test_file = recorded.path / "test_user.py"
    test_file.write_text(
        test_file.read_text().replace(
            "def test_chat(", "@pytest.mark.llm_cassette(validate=False)\ndef test_chat("
        )
    )
    result = run(recorded)
    result.assert_outcomes(passed=2, failed=1)
    assert "CassetteValidationError" not in result.stdout.str()
    assert (recorded.path / "ran-chat").exists()


def test_rewrite_rerecords_what_no_longer_fits_and_the_replay_is_green(recorded: pytest.Pytester) -> None:
    """The documented re-record command replaces the interaction that no longer fits."""
    path = _edit(recorded, "test_chat", _RENAME)
    run(recorded, "--llm-record-mode=rewrite").assert_outcomes(passed=3)
    assert '"choicez":' not in path.read_text()
    assert path.read_text().count("- request:") == 1
    run(recorded).assert_outcomes(passed=3)


# --- the project's own cassettes, and the opt-out per cassette ------------------------------------


def _load(folder: Path, name: str) -> None:
    with make_vcr(folder, "none", match_body=False).use_cassette(name, allow_playback_repeats=True):
        pass


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.yaml")), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_cassette_of_the_project_fits_the_models(path: Path) -> None:
    """Real traffic (streams, Azure, Responses), error answers (4xx, 5xx, a proxy's HTML) all load."""
    _load(path.parent, path.name)


@pytest.mark.parametrize(
    ("name", "opt_out"),
    [
        ("malformed_not_json.yaml", "metadata:\n  typed_llm:\n    validate: false\n"),
        ("embeddings_too_few_vectors.yaml", "    typed_llm:\n      validate: false\n"),
    ],
)
def test_the_deliberately_malformed_cassettes_load_only_by_their_opt_out(
    tmp_path: Path, name: str, opt_out: str
) -> None:
    """Without its ``validate: false`` (per cassette, or per interaction) each conformance cassette fails."""
    text = (ROOT / "errors" / name).read_text()
    assert opt_out in text
    (tmp_path / name).write_text(text.replace(opt_out, ""))
    with pytest.raises(CassetteValidationError) as caught:
        _load(tmp_path, name)
    assert isinstance(caught.value, CassetteError)
    assert isinstance(caught.value, TypedLLMError)
    assert caught.value.interaction == 1
    assert caught.value.cassette.endswith(name)
    assert caught.value.request in {"POST /v1/chat/completions", "POST /v1/embeddings"}


def test_a_responses_api_cassette_that_no_longer_fits_names_the_response_model(tmp_path: Path) -> None:
    """The Responses API answer, streamed and not, is read through the SDK's own parser."""
    source = ROOT / "real-traffic" / "responses"
    plain = next(p for p in sorted(source.glob("*.yaml")) if "stream" not in p.name)
    streamed = next(p for p in sorted(source.glob("*.yaml")) if "stream" in p.name)
    for path, model in ((plain, "Response"), (streamed, "a streamed Response")):
        data = yaml.safe_load(path.read_text())
        body = data["interactions"][0]["response"]["body"]
        edited = re.sub(r'("created_at":\s*)\d+', r'\1"noon"', body["string"])
        assert edited != body["string"]
        body["string"] = edited
        (tmp_path / path.name).write_text(yaml.safe_dump(data))
        with pytest.raises(CassetteValidationError) as caught:
            _load(tmp_path, path.name)
        assert caught.value.model == model, caught.value.message
        assert "created_at" in caught.value.problem, caught.value.problem


def test_a_recording_run_copies_an_opted_out_cassette_without_losing_its_opt_out(tmp_path: Path) -> None:
    """Saving a cassette keeps its ``validate: false`` metadata (the rest of the block is rewritten)."""
    shutil.copy(ROOT / "errors" / "malformed_not_json.yaml", tmp_path / "c.yaml")
    with (
        pytest.warns(StaleRecordingWarning),
        make_vcr(tmp_path, "all", match_body=False).use_cassette("c.yaml") as cassette,
    ):
        cassette._save(force=True)  # vcrpy's save, as leaving the block does when the cassette is dirty
    assert "validate: false" in (tmp_path / "c.yaml").read_text()
    _load(tmp_path, "c.yaml")
