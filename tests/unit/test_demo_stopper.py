"""The demo's stop signals: one request however often a signal is passed on at once; a person's
second Ctrl-C hurries (runner._Stopper)."""

from __future__ import annotations

import signal
from types import SimpleNamespace
from typing import Any

from rentsync.demo.runner import _Stopper
from rentsync.jobs import REPEATED_SIGNAL_SECONDS


def _stopper() -> tuple[_Stopper, Any, list[float]]:
    now = [100.0]
    stopper = _Stopper(clock=lambda: now[0])
    server = SimpleNamespace(should_exit=False, force_exit=False)
    stopper.server = server  # type: ignore[assignment]
    return stopper, server, now


def test_a_signal_passed_on_twice_at_once_is_one_request_to_stop() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        stopper, server, _ = _stopper()
        stopper(sig)
        stopper(sig)
        assert stopper.requested.is_set()
        assert server.should_exit and not server.force_exit


def test_a_second_ctrl_c_a_moment_later_hurries_a_second_sigterm_does_not() -> None:
    stopper, server, now = _stopper()
    stopper(signal.SIGINT)
    now[0] += REPEATED_SIGNAL_SECONDS
    stopper(signal.SIGTERM)
    assert not server.force_exit
    stopper(signal.SIGINT)
    assert server.force_exit
