"""The one vcrpy set-up every recording uses (the demo's and the tests'): scrubbing and matching.

Scrubbing runs before anything is written: credential, cookie, organization and project headers are
dropped from requests and responses, and an ``api-key`` query parameter is removed. Matching is on
method, path, query (Azure's api-version) and the JSON body compared as data, never on host or
port, so a cassette recorded against one fake port or Azure resource replays against another.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Literal

import vcr

if TYPE_CHECKING:
    from pathlib import Path

    from vcr.request import Request as VCRRequest

__all__ = ["SECRET_HEADERS", "RecordMode", "make_vcr"]

RecordMode = Literal["none", "once", "new_episodes", "all"]

SECRET_HEADERS: tuple[str, ...] = (
    "authorization",
    "api-key",
    "cookie",
    "set-cookie",
    "openai-organization",
    "openai-project",
)
"""Headers never written to a cassette, in requests or responses."""

_SLASHES = re.compile(r"/{2,}")


def _path(request: VCRRequest) -> str:
    return _SLASHES.sub("/", str(request.path))


def _json_body(request: VCRRequest) -> object:
    body = request.body
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def match_path(r1: VCRRequest, r2: VCRRequest) -> None:
    """Same path, with repeated slashes collapsed (one real Azure client sends ``//openai``)."""
    if _path(r1) != _path(r2):
        raise AssertionError(f"path {_path(r1)} != {_path(r2)}")


def match_json_body(r1: VCRRequest, r2: VCRRequest) -> None:
    """Same JSON body as data: key order and whitespace do not matter."""
    if _json_body(r1) != _json_body(r2):
        raise AssertionError("JSON bodies differ")


def _scrub_request(request: VCRRequest) -> VCRRequest:
    for name in list(request.headers):
        if name.lower() in SECRET_HEADERS:
            del request.headers[name]
    if "api-key=" in request.uri:
        request.uri = re.sub(r"([?&])api-key=[^&]*&?", r"\1", request.uri).rstrip("?&")
    return request


def _scrub_response(response: dict[str, object]) -> dict[str, object]:
    headers = response.get("headers")
    if isinstance(headers, dict):
        for name in list(headers):
            if str(name).lower() in SECRET_HEADERS:
                del headers[name]
    return response


def make_vcr(cassette_dir: Path, record_mode: RecordMode = "none", *, match_body: bool = True) -> vcr.VCR:
    """A vcrpy configuration with the SDK's scrubbing and matching.

    Args:
        cassette_dir: folder of the cassette files.
        record_mode: vcrpy's record mode; ``none`` replays only and fails on an unrecorded request.
        match_body: also match on the JSON body (off for traffic recorded by other clients).
            Method, path (repeated slashes collapsed) and query are always matched.
    """
    config = vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        record_mode=record_mode,
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    config.register_matcher("norm_path", match_path)
    config.register_matcher("json_body", match_json_body)
    config.match_on = (
        ("method", "norm_path", "query", "json_body") if match_body else ("method", "norm_path", "query")
    )
    return config
