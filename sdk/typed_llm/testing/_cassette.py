"""The cassette every SDK recording uses: indexed replay, typed misses, stale interactions flagged.

vcrpy finds the recording of a request by scanning the cassette and running every matcher on each
recorded request (and deep-copying and scrubbing the request three times per replay), so a replay
from 1,000 interactions cost 61 times one from a single interaction. ``TypedCassette`` keeps the
recorded requests in a dict keyed by what matching compares (method, path with repeated slashes
collapsed, query, the scrubbed body in canonical JSON): a replay is one key computation and one
lookup, whatever the cassette's size.

It also adds what vcrpy lacks for drift: a miss names the nearest recording and the typed fields
that changed (``_diff``); a ``rewrite`` record mode replays what still matches, records what
misses and saves exactly the interactions the test used, in order (a test with no miss leaves its
file untouched); loaded interactions that a test in ``new_episodes`` or ``all`` did not play are
flagged with ``StaleRecordingWarning`` instead of being kept silently.

The metadata block also records the retry strategies the test ran with (``note_backoff``, from the
plugin's ``llm_clock``): a replay under another strategy warns with ``BackoffChangedWarning``.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs
from vcr.cassette import Cassette, CassetteContextDecorator
from vcr.errors import UnhandledHTTPRequestError
from vcr.record_mode import RecordMode as VCRRecordMode

from typed_llm._cache.key import canonical_json
from typed_llm._errors.replay import CassetteValidationError
from typed_llm.testing._diff import Nearest, nearest, typed_view
from typed_llm.testing._frames import FramedPatcherBuilder
from typed_llm.testing._validate import problem_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vcr.request import Request as VCRRequest

__all__ = [
    "CASSETTE_FORMAT",
    "BackoffChangedWarning",
    "Miss",
    "ServerStateWarning",
    "Settings",
    "StaleRecordingWarning",
    "TypedCassette",
    "request_key",
    "server_state",
    "server_state_key",
    "shown_path",
]

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]

CASSETTE_FORMAT: Final = 1
"""Written in each cassette's metadata; raised only when what a recording holds changes on purpose."""

Key = tuple[str, str, tuple[tuple[str, str], ...], str]
"""(method, path, query, canonical body): what two requests must share to match."""


class StaleRecordingWarning(UserWarning):
    """A re-recorded cassette keeps interactions the test no longer sends (``rewrite`` drops them)."""


class ServerStateWarning(UserWarning):
    """A call was recorded that continues server state no earlier interaction of its cassette created.

    It replays, but recording it again needs the server to still hold that state (a stored
    response, a conversation): record the call that creates it in the same test.
    """


class BackoffChangedWarning(UserWarning):
    """A cassette replayed under another retry strategy than the one it was recorded with.

    The replay goes on: the recorded answers (and their ``Retry-After`` headers) are played to the
    strategy under test, whose waits the ledger shows. If it makes fewer or more attempts than were
    recorded, the replay fails as any changed test does (unplayed interactions, or a request with no
    recording). Re-record (``--llm-record-mode=rewrite``) to make the new strategy the recorded one.
    """


@attrs.frozen
class Miss:
    """A request a cassette could not answer, and why."""

    cassette: str
    """The cassette file."""
    test: str | None
    """The test that sent it (None outside the pytest plugin)."""
    request: str
    """Method and path."""
    interactions: int
    """How many interactions the cassette holds."""
    nearest: Nearest | None
    """The closest recording of the same method and endpoint, with the fields that changed."""


@attrs.frozen
class Settings:
    """What the SDK's cassette needs beyond vcrpy's own arguments."""

    mode: RecordMode = "none"
    match_body: bool = True
    test: str | None = None
    """The test id recorded in the metadata block and in each miss."""
    on_miss: Callable[[Miss], None] | None = None
    """Told of each miss (the plugin's drift report)."""
    validate: bool = True
    """Read every recorded answer into its typed model when the cassette loads (``_validate``)."""
    replay_speed: float = 0.0
    """Replayed streams: 0 hands every frame over at once; 1.0 at the recorded pace; 2.0 twice as fast."""


def vcr_mode(mode: RecordMode) -> str:
    """The vcrpy record mode under ``mode`` (``rewrite`` records like ``new_episodes`` and saves itself)."""
    return "new_episodes" if mode == "rewrite" else mode


_KEY_ATTR = "_typed_llm_key"


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is under it (no machine path in messages)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _text(body: object) -> str:
    if body is None:
        return ""
    return body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)


def _body_of(answer: object) -> object:
    body = answer.get("body") if isinstance(answer, dict) else None
    return body.get("string") if isinstance(body, dict) else body


def request_key(request: VCRRequest, *, match_body: bool, scrub: Callable[[str], str]) -> Key:
    """The index key of ``request``, computed once per request object.

    The body and URI are scrubbed as a recording is (``scrub``), so a request whose prompt holds a
    key matches its scrubbed recording; an ``api-key`` query parameter is never part of it.
    """
    cached: Key | None = getattr(request, _KEY_ATTR, None)
    if cached is not None:
        return cached
    split = urlsplit(scrub(str(request.uri)))
    path = "/" + "/".join(part for part in split.path.split("/") if part)
    query = tuple(sorted((k, v) for k, v in parse_qsl(split.query) if k != "api-key"))
    body = ""
    if match_body:
        text = scrub(_text(request.body))
        try:
            body = canonical_json(json.loads(text)).decode() if text else ""
        except ValueError:
            body = text
    else:
        body = server_state_key(scrub(_text(request.body)))
    key: Key = (str(request.method).upper(), path, query, body)
    setattr(request, _KEY_ATTR, key)
    return key


SERVER_STATE_FIELDS: Final = ("previous_response_id", "conversation")
"""Request fields naming state kept on the server: a recording answers only the same state."""


def server_state(body: object) -> dict[str, str]:
    """The server state a request body continues (its ``previous_response_id``, ``conversation``)."""
    try:
        data = json.loads(body) if isinstance(body, str | bytes) and body else body
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {name: str(data[name]) for name in SERVER_STATE_FIELDS if data.get(name) is not None}


def server_state_key(text: str) -> str:
    """What matching compares of a body when bodies are not matched: the server state it continues.

    A recording of another client's traffic (``match_body=False``) may answer a request whatever
    its prompt, but a call continuing a stored response is answered only by a recording of a call
    continuing the same one.
    """
    state = server_state(text)
    return canonical_json(state).decode() if state else ""


class _Context(CassetteContextDecorator):  # type: ignore[misc]  # vcrpy is untyped
    """vcrpy's ``use_cassette`` context, patching httpx2 with the frame-faithful handlers (``_frames``)."""

    def _patch_generator(self, cassette: TypedCassette) -> Iterator[TypedCassette]:
        with contextlib.ExitStack() as stack:
            for patcher in FramedPatcherBuilder(cassette).build():
                stack.enter_context(patcher)
            yield cassette


class TypedCassette(Cassette):  # type: ignore[misc]  # vcrpy is untyped: its Cassette is Any
    """A vcrpy cassette with an index of its requests, typed miss reports and the ``rewrite`` mode."""

    @classmethod
    def use_arg_getter(cls, arg_getter: Callable[[], dict[str, object]]) -> _Context:
        """Vcrpy's context for this cassette class, with streams recorded and replayed frame by frame."""
        return _Context(cls, arg_getter)

    @property
    def scrub(self) -> Callable[[str], str]:
        """What scrubs a recorded body (the frame recorder scrubs each frame with it)."""
        return self._scrub

    @property
    def replay_speed(self) -> float:
        """The pace of replayed streams (``Settings.replay_speed``)."""
        return self._typed.replay_speed

    def __init__(self, *args: object, typed: Settings, scrub: Callable[[str], str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._typed = typed
        self._scrub = scrub
        self._index: dict[Key, list[int]] = {}
        self._used: list[int] = []
        self._loading = False
        self.misses: list[Miss] = []
        self.stale: tuple[int, ...] = ()
        """Loaded interactions a recording run neither played nor replaced (set when saved)."""
        self.backoff: list[dict[str, object]] | None = None
        """The retry strategies the test ran with (``note_backoff``), written in the metadata."""

    # --- loading and the index ----------------------------------------------------------------

    def _key(self, request: VCRRequest) -> Key:
        return request_key(request, match_body=self._typed.match_body, scrub=self._scrub)

    def _load(self) -> None:
        self._loading = True
        try:
            super()._load()
        finally:
            self._loading = False
        self._validate()

    def _own_metadata(self) -> dict[str, object]:
        """The ``typed_llm`` block of the metadata read from the file ({} when there is none)."""
        metadata: object = self.__dict__.get("_metadata")
        own = metadata.get("typed_llm") if isinstance(metadata, dict) else None
        return own if isinstance(own, dict) else {}

    def _validates(self) -> bool:
        opted_out = self._own_metadata().get("validate") is False
        return self._typed.validate and not opted_out and self._typed.mode in {"none", "once", "rewrite"}

    def _validate(self) -> None:
        """Read each loaded answer into its typed model: fail naming it, or (``rewrite``) re-record it.

        In replay (``none``, ``once`` with the file there) an answer that no longer fits raises
        ``CassetteValidationError`` before the test runs; ``rewrite`` leaves it out of the index, so
        the test's request misses, is recorded afresh and replaces it.
        """
        if not self._validates():
            return
        for index, (request, response) in enumerate(self.data[: self._loaded_count]):
            path = self._key(request)[1]
            found = problem_of(path, request.body, response)
            if found is None:
                continue
            if self._typed.mode == "rewrite":
                self._index[self._key(request)].remove(index)
                continue
            model, problem = found
            raise CassetteValidationError(
                cassette=shown_path(str(self._path)),
                interaction=index + 1,
                request=f"{request.method} {path}",
                model=model,
                problem=problem,
            )

    def append(self, request: VCRRequest, response: dict[str, object]) -> None:
        """Record (or load) one interaction and index it."""
        if not self._loading:
            self._check_server_state(request)
        before = len(self.data)
        super().append(request, response)
        if len(self.data) > before:
            self._index.setdefault(self._key(self.data[before][0]), []).append(before)
            if not self._loading:
                self._used.append(before)

    def _check_server_state(self, request: VCRRequest) -> None:
        """Warn when ``request`` continues state that no earlier answer in this cassette names."""
        for name, value in server_state(_text(request.body)).items():
            answers = (_text(_body_of(answer)) for _, answer in self.data)
            if not any(value in answer for answer in answers):
                warnings.warn(
                    ServerStateWarning(
                        f"recorded a call with {name}={value!r}, which no earlier interaction of "
                        f"{shown_path(str(self._path))} created: it replays, but re-recording it needs "
                        "the server to still hold it; record the call that creates it in the same test"
                    ),
                    stacklevel=2,
                )

    # --- replay -------------------------------------------------------------------------------

    def _playable(self, request: VCRRequest) -> int | None:
        for index in self._index.get(self._key(request), ()):
            if self.play_counts[index] == 0 or self.allow_playback_repeats:
                return index
        return None

    def _responses(self, request: VCRRequest) -> Iterator[tuple[int, dict[str, object]]]:
        for index in self._index.get(self._key(request), ()):
            yield index, self.data[index][1]

    def __contains__(self, request: VCRRequest) -> bool:
        return self._playable(request) is not None

    def can_play_response_for(self, request: VCRRequest) -> bool:
        """Whether a recording answers ``request`` now (one index lookup)."""
        return (
            self.record_mode != VCRRecordMode.ALL
            and (self.rewound or self.allow_playback_repeats)
            and self._playable(request) is not None
        )

    def play_response(self, request: VCRRequest) -> dict[str, object]:
        """The recorded response to ``request``, marked as played."""
        index = self._playable(request)
        if index is None:
            raise UnhandledHTTPRequestError(
                f"The cassette ({self._path!r}) doesn't contain the request asked for"
            )
        if self.play_counts[index] == 0 and index < self._loaded_count:
            self._played_interactions.append(self.data[index])
        self.play_counts[index] += 1
        self._used.append(index)
        response: dict[str, object] = self.data[index][1]
        return response

    @property
    def unplayed(self) -> tuple[int, ...]:
        """Interactions loaded from the file that were not played back."""
        return tuple(i for i in range(self._loaded_count) if self.play_counts[i] == 0)

    # --- a miss -------------------------------------------------------------------------------

    def find_requests_with_most_matches(
        self, request: VCRRequest
    ) -> list[tuple[VCRRequest, list[str], list[tuple[str, str]]]]:
        """Called by vcrpy when a request misses: the typed nearest recording, and the miss reported."""
        method, path, query, _ = self._key(request)
        same_endpoint = [
            (i, typed_view(path, stored.body))
            for i, (stored, _) in enumerate(self.data)
            if self._key(stored)[:3] == (method, path, query)
        ]
        found = nearest(typed_view(path, self._scrub(_text(request.body))), same_endpoint)
        miss = Miss(
            cassette=shown_path(str(self._path)),
            test=self._typed.test,
            request=f"{method} {path}",
            interactions=len(self.data),
            nearest=found,
        )
        self.misses.append(miss)
        setattr(request, "_typed_llm_miss", miss)  # noqa: B010  (vcrpy's Request has no slot for it)
        if self._typed.on_miss is not None:
            self._typed.on_miss(miss)
        if found is None:
            return []
        failed = (
            [("json_body", "; ".join(change.render() for change in found.changes))] if found.changes else []
        )
        return [(self.data[found.index][0], ["method", "norm_path", "query"], failed)]

    # --- the retry strategy ---------------------------------------------------------------------

    @property
    def recorded_backoff(self) -> list[dict[str, object]] | None:
        """The retry strategies the loaded recording was made with (None: not recorded, or new)."""
        metadata: object = self._metadata
        meta = metadata.get("typed_llm") if isinstance(metadata, dict) else None
        found = meta.get("backoff") if isinstance(meta, dict) else None
        return found if isinstance(found, list) else None

    def note_backoff(self, strategies: list[dict[str, object]]) -> None:
        """The strategies the test ran with (``describe``d): saved in the metadata when recording;
        compared with the recorded ones when replaying (``BackoffChangedWarning`` if they differ).
        """  # noqa: D205  (the summary names both cases)
        recorded = self.recorded_backoff
        self.backoff = strategies
        if recorded is not None and self.write_protected and recorded != strategies:
            warnings.warn(
                BackoffChangedWarning(
                    f"{shown_path(str(self._path))} was recorded under the retry strategy {recorded} "
                    f"and is replayed under {strategies}: the waits are the new strategy's; re-record "
                    "(--llm-record-mode=rewrite) to make it the recorded one"
                ),
                stacklevel=2,
            )

    # --- saving -------------------------------------------------------------------------------

    def _find_stale(self) -> tuple[int, ...]:
        if self._typed.mode == "new_episodes":
            return self.unplayed
        if self._typed.mode == "all":
            recorded = {self._key(request) for request, _ in self.data[self._loaded_count :]}
            return tuple(i for i in range(self._loaded_count) if self._key(self.data[i][0]) not in recorded)
        return ()

    def _persist(self, cassette_dict: dict[str, object]) -> None:
        # What a reviewer needs, and nothing that changes between two recordings of the same test.
        own: dict[str, object] = {
            "format": CASSETTE_FORMAT,
            "recorded_by": self._typed.test or "typed_llm.testing.make_vcr",
            "match_on": "method, path, query" + (", JSON body" if self._typed.match_body else ""),
        }
        if self._own_metadata().get("validate") is False:
            own["validate"] = False  # a cassette that opted out of validation stays opted out
        if self.backoff:
            own["backoff"] = self.backoff
        self._metadata = {"typed_llm": own}
        super()._persist(cassette_dict)

    def _save(self, force: bool = False) -> None:  # noqa: FBT001, FBT002  (vcrpy's signature)
        self.stale = self._find_stale()
        if self.stale:
            warnings.warn(
                StaleRecordingWarning(
                    f"{shown_path(str(self._path))}: {len(self.stale)} recorded interaction(s) were "
                    "neither played nor "
                    f"re-recorded and are kept (interactions {', '.join(str(i) for i in self.stale)}); "
                    "--llm-record-mode=rewrite (record mode 'rewrite') saves only what the test sends"
                ),
                stacklevel=2,
            )
        if self._typed.mode != "rewrite":
            super()._save(force)
            return
        order = list(dict.fromkeys(self._used))
        if order == list(range(self._loaded_count)) and not force:
            return  # every recording played, in order, nothing new: the file stays byte for byte
        kept = [self.data[i] for i in order]
        self._persist({"requests": [r for r, _ in kept], "responses": [r for _, r in kept]})
        self.dirty = False
