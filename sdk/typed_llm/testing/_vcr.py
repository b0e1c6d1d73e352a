"""The one vcrpy set-up every recording uses (the demo's and the tests'): scrubbing and matching.

Scrubbing runs before anything is written: credential, cookie, organization and project headers are
dropped from requests and responses, and an ``api-key`` query parameter is removed. Every credential
a client of this process was built with or received from its token provider (the registry that
log redaction uses) is replaced wherever it appears: a prompt, a server's echo, a header, a URL.
So are strings shaped like an OpenAI key, an Azure key in Microsoft's 84-character form, or a JWT.
Matching is on method, path, query (Azure's api-version) and the JSON body compared as data, never on host or
port, so a cassette recorded against one fake port or Azure resource replays against another.

Recordings are byte-stable: what changes from one recording run to the next without the test
changing (a loopback port, the ``date`` and ``server`` headers, the user agent and the
``x-stainless-*`` headers naming the Python, openai and OS versions) is not written. What a reviewer
needs (the test, the format, what is matched) is in the cassette's ``metadata`` block.
"""

from __future__ import annotations

import contextvars
import json
import re
from typing import TYPE_CHECKING

import vcr

from typed_llm._cache.key import canonical_json
from typed_llm._redaction import scrub_registered
from typed_llm.testing._cassette import Miss, RecordMode, Settings, TypedCassette, server_state, vcr_mode

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from vcr.request import Request as VCRRequest

__all__ = ["SECRET_HEADERS", "VOLATILE_HEADERS", "RecordMode", "make_vcr"]

SECRET_HEADERS: tuple[str, ...] = (
    "authorization",
    "api-key",
    "cookie",
    "set-cookie",
    "openai-organization",
    "openai-project",
)
"""Headers never written to a cassette, in requests or responses."""

VOLATILE_HEADERS: tuple[str, ...] = ("host", "user-agent", "date", "server")
"""Headers not written because they change between recordings (with every ``x-stainless-*``)."""

_LOOPBACK_PORT = re.compile(r"^(https?://(?:127\.0\.0\.1|localhost|\[::1\])):\d+")

_SLASHES = re.compile(r"/{2,}")


def _path(request: VCRRequest) -> str:
    cached = getattr(request, "_typed_llm_path", None)
    if cached is None:
        cached = _SLASHES.sub("/", str(request.path))
        setattr(request, "_typed_llm_path", cached)  # noqa: B010  (vcrpy's Request has no slot for it)
    return str(cached)


record_command: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "typed_llm_record_command",
    default="re-record the cassette with record mode 'rewrite' (pytest --llm-record-mode=rewrite)",
)
"""The command that records the running test's cassette (set by the pytest fixture)."""


_SHOWN = 80


def describe_unrecorded(request: VCRRequest | None) -> str:
    """What a request that has no recording asked for, and what changed since the nearest recording.

    The first line names the method, path, model and last message (cut); when the cassette was
    searched, the following lines name the nearest recording and list the fields of the typed
    request that differ (``messages[1].content: 'Summarise…' → 'Summarize…'``), then the cassette.
    """
    if request is None:
        return "a request"
    summary = f"{request.method} {_path(request)}"
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if isinstance(body, dict):
        model = body.get("model")
        messages = body.get("messages")
        last = messages[-1] if isinstance(messages, list) and messages else None
        content = last.get("content") if isinstance(last, dict) else body.get("input")
        text = json.dumps(content, ensure_ascii=False) if content is not None else ""
        text = _scrub_text(text)
        cut = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
        summary += f" model={model!r} last message={cut}"
    summary += _server_state_hint(request.body)
    miss: Miss | None = getattr(request, "_typed_llm_miss", None)
    return summary if miss is None else summary + "\n" + describe_miss(miss)


def _server_state_hint(body: object) -> str:
    """For a call that continues state kept on the server: what its recording depends on."""
    state = server_state(body)
    if not state:
        return ""
    named = ", ".join(f"{name}={value!r}" for name, value in state.items())
    return (
        f"\n  it continues state kept on the server ({named}): its recording must come from the same "
        "run as the call that created that state (re-record the whole test, not this call alone); "
        "re-recording needs the server to still hold it"
    )


def describe_miss(miss: Miss) -> str:
    """The nearest recording of a miss and the typed fields that changed, one per line, then the cassette."""
    found = miss.nearest
    if found is None:
        head = "  no recording of the same method and endpoint to compare with"
        lines = [head if miss.interactions else "  the cassette holds no interactions"]
    elif not found.changes:
        lines = [
            (
                f"  the same request is recorded (interaction {found.index + 1} of {miss.interactions}) "
                "but was already played: the test sends it more often than when it was recorded"
            )
        ]
    else:
        lines = [
            (
                f"  nearest recording: interaction {found.index + 1} of {miss.interactions}; "
                f"{found.kind} fields that changed (recorded → sent):"
            )
        ]
        lines += [f"    {_scrub_text(change.render())}" for change in found.changes[:_CHANGES_SHOWN]]
        if len(found.changes) > _CHANGES_SHOWN:
            lines.append(f"    … and {len(found.changes) - _CHANGES_SHOWN} more")
    lines.append(f"  cassette: {miss.cassette}")
    return "\n".join(lines)


_CHANGES_SHOWN = 12


_DIGEST = "_typed_llm_body_digest"


def _body_digest(request: VCRRequest) -> str:
    """The body in canonical JSON (the cache key's form), computed once per request object.

    vcrpy compares a request with every recorded one in turn; keeping the canonical form on the
    request makes each comparison a string comparison instead of a JSON parse.
    """
    cached = getattr(request, _DIGEST, None)
    if cached is not None:
        return str(cached)
    body = request.body
    if not body:
        digest = ""
    else:
        try:
            digest = canonical_json(json.loads(body)).decode()
        except ValueError:
            digest = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    setattr(request, _DIGEST, digest)
    return digest


def match_path(r1: VCRRequest, r2: VCRRequest) -> None:
    """Same path, with repeated slashes collapsed (one real Azure client sends ``//openai``)."""
    if _path(r1) != _path(r2):
        raise AssertionError(f"path {_path(r1)} != {_path(r2)}")


def match_json_body(r1: VCRRequest, r2: VCRRequest) -> None:
    """Same JSON body as data, in the cache key's canonical form (key order, spacing, 1 vs 1.0 aside)."""
    if _body_digest(r1) != _body_digest(r2):
        raise AssertionError("JSON bodies differ")


KEY_SHAPED = re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")
"""Anything shaped like an OpenAI key."""
_KEY_REPLACEMENT = "sk-REDACTED"
_REPLACEMENT = "REDACTED"

AZURE_KEY_84 = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}"
    r"(?![A-Za-z0-9])"
)
"""An Azure key in Microsoft's identifiable 84-character form (the ``JQQJ9`` signature)."""
AZURE_KEY_HEX = re.compile(r"(?<![A-Za-z0-9_\-])[0-9a-fA-F]{32}(?![A-Za-z0-9_\-])")
"""An Azure key in the classic form: 32 hex digits standing alone (flagged, not rewritten: ids
and digests can take that shape too, and the client's own key is scrubbed by value)."""
JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
"""A JSON Web Token (an Entra ID bearer): base64url ``{"`` header and payload, and a signature."""


def _scrub_text(text: str) -> str:
    # Shapes first, so an OpenAI key reads sk-REDACTED whether or not a client registered it.
    if "sk-" in text:
        text = KEY_SHAPED.sub(_KEY_REPLACEMENT, text)
    if "eyJ" in text:
        text = JWT_SHAPED.sub(_REPLACEMENT, text)
    if "JQQJ9" in text:
        text = AZURE_KEY_84.sub(_REPLACEMENT, text)
    return scrub_registered(text, _REPLACEMENT)


def _volatile(name: str) -> bool:
    lower = name.lower()
    return lower in VOLATILE_HEADERS or lower.startswith("x-stainless-")


def _scrub_headers(headers: dict[str, object]) -> None:
    """Drop the credential and volatile headers; scrub the values of the others (a server may echo a key)."""
    for name in list(headers):
        if str(name).lower() in SECRET_HEADERS or _volatile(str(name)):
            del headers[name]
            continue
        value = headers[name]
        if isinstance(value, str):
            headers[name] = _scrub_text(value)
        elif isinstance(value, list):
            headers[name] = [_scrub_text(v) if isinstance(v, str) else v for v in value]


def _scrub_request(request: VCRRequest) -> VCRRequest:
    headers = request.headers
    for name in list(headers):
        if name.lower() in SECRET_HEADERS or _volatile(name):
            del headers[name]
        elif isinstance(headers[name], str):
            headers[name] = _scrub_text(headers[name])
    if _LOOPBACK_PORT.match(request.uri):
        request.uri = _LOOPBACK_PORT.sub(r"\1", request.uri)  # the fake's port changes every run
    if "api-key=" in request.uri:
        request.uri = re.sub(r"([?&])api-key=[^&]*&?", r"\1", request.uri).rstrip("?&")
    scrubbed_uri = _scrub_text(request.uri)
    if scrubbed_uri != request.uri:
        request.uri = scrubbed_uri
    body = request.body
    if body:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        scrubbed = _scrub_text(text)
        if scrubbed != text:
            request.body = scrubbed.encode()
    return request


def _scrub_response(response: dict[str, object]) -> dict[str, object]:
    headers = response.get("headers")
    if isinstance(headers, dict):
        _scrub_headers(headers)
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("string"), bytes | str):
        raw = body["string"]
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        scrubbed = _scrub_text(text)
        if scrubbed != text:
            body["string"] = scrubbed.encode() if isinstance(raw, bytes) else scrubbed
    return response


_SECRET_LINE = re.compile(
    r"(?i)^\s*-?\s*(authorization|api-key|cookie|set-cookie|openai-organization|openai-project)\s*:"
    r"|bearer\s+[A-Za-z0-9._~+/\-]{16,}|[?&]api-key=[^&\s'\"]{8,}"
)


_ID_NAME = re.compile(
    r"""(?i)(?:^\s*-?\s*[\w.-]*(?:id|trace|traceparent|etag)\s*:\s*$|["']?[\w.-]*id["']?\s*:\s*["']?[0-9a-f]{32}\b)"""
)
"""A header or JSON field that names an id: its 32 hex digits are a request id, not a key."""


def _is_an_id(line: str, previous: str) -> bool:
    """Whether the 32 hex digits on ``line`` are the value of an id (a header on ``previous``)."""
    return _ID_NAME.search(line) is not None or _ID_NAME.match(previous) is not None


_REDACTION = re.compile(r"^\s*-\s*'?(REDACTED|\[redacted\]|\*+)'?\s*$", re.IGNORECASE)


def scan(folder: Path) -> list[tuple[Path, int, str]]:
    """Every line of the YAML cassettes under ``folder`` that looks like a secret: (file, line, why).

    Looks for OpenAI-key-shaped strings, Azure keys (32 hex digits, or the 84-character form),
    JWTs, bearer tokens, api-key query values, and credential headers.
    """
    findings: list[tuple[Path, int, str]] = []
    for path in sorted(folder.rglob("*.yaml")) + sorted(folder.rglob("*.yml")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, start=1):
            key = KEY_SHAPED.search(line)
            following = lines[number] if number < len(lines) else ""
            redacted = line.rstrip().endswith(":") and _REDACTION.search(following) is not None
            if key is not None and key.group(0) != _KEY_REPLACEMENT:
                findings.append((path, number, f"an OpenAI-shaped key {key.group(0)[:7]}…"))
            elif AZURE_KEY_84.search(line):
                findings.append((path, number, "an Azure key (84-character form)"))
            elif AZURE_KEY_HEX.search(line) and not _is_an_id(line, lines[number - 2] if number > 1 else ""):
                findings.append((path, number, "an Azure-shaped key (32 hex digits)"))
            elif JWT_SHAPED.search(line):
                findings.append((path, number, "a JWT (an Entra ID token?)"))
            elif _SECRET_LINE.search(line) and not redacted:
                findings.append((path, number, "a credential header or token"))
    return findings


class _VCR(vcr.VCR):  # type: ignore[misc]  # vcrpy is untyped: its VCR is Any
    """vcrpy's configuration object, opening ``TypedCassette``s."""

    def __init__(self, typed: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.typed = typed

    def _use_cassette(self, with_current_defaults: bool = False, **kwargs: object) -> object:  # noqa: FBT001, FBT002  (vcrpy's signature)
        typed = kwargs.pop("typed", self.typed)

        def arguments() -> dict[str, object]:
            return {**self.get_merged_config(**kwargs), "typed": typed, "scrub": _scrub_text}

        if with_current_defaults:
            fixed = arguments()
            return TypedCassette.use_arg_getter(lambda: fixed)
        return TypedCassette.use_arg_getter(arguments)


def make_vcr(
    cassette_dir: Path,
    record_mode: RecordMode = "none",
    *,
    match_body: bool = True,
    test: str | None = None,
    on_miss: Callable[[Miss], None] | None = None,
) -> vcr.VCR:
    """A vcrpy configuration with the SDK's scrubbing, matching, index and miss reports.

    Args:
        cassette_dir: folder of the cassette files.
        record_mode: ``none`` replays only and fails on an unrecorded request; ``once``,
            ``new_episodes`` and ``all`` are vcrpy's; ``rewrite`` replays what matches, records
            what does not, and saves exactly the interactions used, in order.
        match_body: also match on the JSON body (off for traffic recorded by other clients).
            Method, path (repeated slashes collapsed) and query are always matched.
        test: the test id written in the metadata block and in each miss.
        on_miss: called with each request a cassette could not answer.
    """
    config = _VCR(
        Settings(mode=record_mode, match_body=match_body, test=test, on_miss=on_miss),
        cassette_library_dir=str(cassette_dir),
        record_mode=vcr_mode(record_mode),
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    config.register_matcher("norm_path", match_path)
    config.register_matcher("json_body", match_json_body)
    # Replay looks recordings up in TypedCassette's index; vcrpy's matchers still decide, at
    # record time, which loaded interactions a new recording replaces.
    config.match_on = (
        ("json_body", "method", "norm_path", "query") if match_body else ("method", "norm_path", "query")
    )
    return config
