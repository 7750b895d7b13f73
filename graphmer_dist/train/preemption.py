"""Stopping early on purpose: a signal (SIGTERM/SIGINT) or a wall-clock budget.

Both end the same way: the loop finishes the step it is in, writes a checkpoint, and the process exits
with `EXIT_PREEMPTED` (75, `EX_TEMPFAIL`: "try again later"), so schedulers and wrapper scripts can tell
"stopped to be resumed" from success (0) and failure (anything else).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

EXIT_PREEMPTED = 75
"""Exit status of a run that stopped early with a checkpoint (signal or train.time_limit)."""

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """Records SIGTERM/SIGINT instead of dying, so the loop can checkpoint at a step boundary.

    A second signal while stopping restores the previous handler and re-raises it: an impatient user
    (or a scheduler's grace period running out) can still kill the process.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> "StopRequest":
        # Signal handlers can only be set from the main thread (Ray runs the loop in another one);
        # there the worker is stopped by Ray itself, so skipping is correct.
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal_name is not None:
            self.uninstall()
            signal.raise_signal(signum)
            return
        self.signal_name = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal_name is not None


class TimeBudget:
    """Decides when to stop so that one more step plus a checkpoint still fit in the budget.

    Step and checkpoint durations are estimated from the run itself (the slowest seen, with a margin),
    because the first step includes compilation and a checkpoint's cost depends on the storage.
    """

    SAFETY_FACTOR = 1.5
    MIN_RESERVE_S = 5.0

    def __init__(self, limit_s: float | None, started_at: float | None = None) -> None:
        self.limit_s = limit_s
        self.started_at = time.monotonic() if started_at is None else started_at
        self.max_step_s = 0.0
        self.max_checkpoint_s = 0.0

    def record_step(self, seconds: float) -> None:
        self.max_step_s = max(self.max_step_s, seconds)

    def record_checkpoint(self, seconds: float) -> None:
        self.max_checkpoint_s = max(self.max_checkpoint_s, seconds)

    def remaining_s(self) -> float:
        if self.limit_s is None:
            return float("inf")
        return self.limit_s - (time.monotonic() - self.started_at)

    def reserve_s(self) -> float:
        """Time to keep free: the next step and the final checkpoint, with a margin."""
        return max(self.MIN_RESERVE_S, self.SAFETY_FACTOR * (self.max_step_s + self.max_checkpoint_s))

    def exhausted(self) -> bool:
        return self.remaining_s() < self.reserve_s()
