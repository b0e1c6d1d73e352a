"""The drift report: what changed across a whole suite's recordings, so one decision re-records them.

When a prompt or a parameter changes, many cassettes stop matching at once, and one failure per
test says the same thing many times. ``DriftReport`` collects every miss of a run (with its typed
field changes), every interaction left unplayed and every stale recording kept, and groups the
misses by change: ``messages[0].content changed in 12 tests: 'You are terse.' → 'You are brief.'``.
It ends with the one command that re-records exactly the tests concerned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from typed_llm.testing._cassette import Miss

if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ["DriftReport"]

_TESTS_LISTED = 5
"""Test ids listed under each change (the rest are counted)."""


@attrs.define
class DriftReport:
    """Everything in a run that no longer matches its recordings."""

    misses: list[Miss] = attrs.Factory(list)
    unplayed: list[tuple[str, str, int]] = attrs.Factory(list)
    """(test, cassette, how many) for replayed tests that left interactions unplayed."""
    stale: list[tuple[str, str, int]] = attrs.Factory(list)
    """(test, cassette, how many) for recordings that kept interactions the test did not send."""

    def add_miss(self, miss: Miss) -> None:
        """Note a request a cassette could not answer."""
        self.misses.append(miss)

    def add_unplayed(self, test: str, cassette: str, count: int) -> None:
        """Note a replayed test that left ``count`` interactions unplayed."""
        self.unplayed.append((test, cassette, count))

    def add_stale(self, test: str, cassette: str, count: int) -> None:
        """Note a recording that kept ``count`` interactions nobody sent."""
        self.stale.append((test, cassette, count))

    def changes(self) -> list[tuple[tuple[str, str], list[str]]]:
        """Each distinct change, (field, rendered), with the tests that share it, most shared first."""
        groups: dict[tuple[str, str], list[str]] = {}
        for miss in self.misses:
            test = miss.test or miss.cassette
            if miss.nearest is None:
                lines = [(miss.request, "nothing recorded to compare with (a new request)")]
            elif not miss.nearest.changes:
                lines = [(miss.request, "sent more often than recorded (already played)")]
            else:
                lines = [(change.path, change.render()) for change in miss.nearest.changes]
            for line in lines:
                tests = groups.setdefault(line, [])
                if test not in tests:
                    tests.append(test)
        return sorted(groups.items(), key=lambda item: -len(item[1]))

    def tests(self) -> list[str]:
        """Every test the report concerns, in the order met."""
        seen = [miss.test or miss.cassette for miss in self.misses]
        seen += [test for test, _, _ in self.unplayed + self.stale]
        return list(dict.fromkeys(seen))

    def render(self, command: Callable[[list[str]], str]) -> str:
        """The report as text; ``command`` makes the re-record command from test ids."""
        tests = self.tests()
        if not tests:
            return "every request matched its recording: no drift"
        cassettes = {miss.cassette for miss in self.misses}
        lines = [
            (
                f"{len(self.misses)} request(s) missed in {len(cassettes)} cassette(s); "
                f"{len(tests)} test(s) concerned"
            )
        ]
        for (path, change), sharing in self.changes():
            lines.append(f"- {path} changed in {len(sharing)} test(s): {change}")
            lines += [f"    {test}" for test in sharing[:_TESTS_LISTED]]
            if len(sharing) > _TESTS_LISTED:
                lines.append(f"    … and {len(sharing) - _TESTS_LISTED} more")
        for test, cassette, count in self.unplayed:
            lines.append(f"- {count} recorded interaction(s) not played: {test} ({cassette})")
        for test, cassette, count in self.stale:
            lines.append(f"- {count} stale interaction(s) kept by re-recording: {test} ({cassette})")
        lines.append(f"re-record them all: {command(tests)}")
        return "\n".join(lines)
