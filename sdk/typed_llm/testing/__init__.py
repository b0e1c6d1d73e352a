"""Replay testing for applications that use typed-llm: a pytest plugin, the loopback fake, a scanner.

Installing typed-llm registers this module as a pytest plugin (entry point ``pytest11``). It gives
a test suite:

- ``llm_cassette``: wraps the test in a vcrpy cassette named after the test module and the test
  (parametrized ids included; an id with characters unsafe in a file name gets a short hash, so
  no two ids share a file), under ``llm_cassette_dir`` (an ini option, default ``cassettes``).
  ``@pytest.mark.llm_cassette("name")`` names it explicitly. Requests match on method, path, query
  and the JSON body in canonical form, never on host or port, looked up in an index (replay costs
  the same from 1 or 1,000 interactions). Credentials are scrubbed before anything is written,
  key-shaped strings in bodies included; so is what changes between two recordings (ports, dates,
  Python and SDK versions), so re-recording the same test writes the same bytes. A replayed test
  that leaves recorded interactions unplayed fails (ini ``llm_fail_on_unplayed``, default true;
  ``@pytest.mark.llm_cassette(allow_unplayed=True)`` for one test).
- ``--llm-record-mode``: ``none`` (the default: replay only; an unrecorded request fails naming the
  nearest recording, the typed request fields that changed, and the command that re-records it),
  ``once`` (record missing cassettes), ``new_episodes``, ``all`` (these two warn with
  ``StaleRecordingWarning`` about interactions kept that the test no longer sends), and
  ``rewrite``: replay what matches, record what misses, save exactly what the test used.
  Recording a Responses call on a stored response or conversation that no earlier interaction of
  the cassette created warns with ``ServerStateWarning`` (re-recording it would need the server).
- ``--llm-drift-report``: after the run, each change that made requests miss, how many tests share
  it, and the one command that re-records them.
- ``llm_fake``: the loopback fake of the OpenAI and Azure APIs (``FakeAPI``), started for the test,
  with scriptable faults (``FakeReply``: error statuses, Retry-After, dropped or cut connections,
  slow answers) to test retry paths.
- ``llm_base_url``: the fake's OpenAI base URL while recording, and a dead loopback URL while
  replaying (nothing is contacted: the cassette answers).
- ``llm_clock``: virtual time (``VirtualClock``): the retry layers wait on it without sleeping, so
  a recorded 429 → 429 → 200 replays in no time with its exact waits in ``response.attempts``; the
  retry strategy is written into the cassette's metadata and a replay under another one warns
  (``BackoffChangedWarning``).

``typed-llm cassettes check DIR`` (and ``scan``) finds anything in cassettes that looks like a key.
"""

from __future__ import annotations

from typed_llm.testing._cassette import BackoffChangedWarning, ServerStateWarning, StaleRecordingWarning
from typed_llm.testing._clock import VirtualClock
from typed_llm.testing._fake import FakeAPI
from typed_llm.testing._replies import FakeReply, Fault, ReceivedRequest, StreamScript
from typed_llm.testing._vcr import RecordMode, make_vcr, record_command, scan

__all__ = [
    "BackoffChangedWarning",
    "FakeAPI",
    "FakeReply",
    "Fault",
    "ReceivedRequest",
    "RecordMode",
    "ServerStateWarning",
    "StaleRecordingWarning",
    "StreamScript",
    "VirtualClock",
    "cassette_name",
    "make_vcr",
    "record_command",
    "scan",
]

# The plugin's hooks and fixtures live in this module's namespace, where pytest looks for them, but
# only where pytest is installed: the fake, the recorder and the scanner (the CLI's
# ``cassettes check``, the demo) work without it.
try:
    import pytest  # noqa: F401  (only whether it is there)
except ImportError:
    pass
else:
    from typed_llm.testing._plugin import (
        cassette_name as cassette_name,
    )
    from typed_llm.testing._plugin import (
        llm_base_url as llm_base_url,
    )
    from typed_llm.testing._plugin import (
        llm_cassette as llm_cassette,
    )
    from typed_llm.testing._plugin import (
        llm_clock as llm_clock,
    )
    from typed_llm.testing._plugin import (
        llm_fake as llm_fake,
    )
    from typed_llm.testing._plugin import (
        pytest_addoption as pytest_addoption,
    )
    from typed_llm.testing._plugin import (
        pytest_configure as pytest_configure,
    )
    from typed_llm.testing._plugin import (
        pytest_runtest_call as pytest_runtest_call,
    )
    from typed_llm.testing._plugin import (
        pytest_terminal_summary as pytest_terminal_summary,
    )
