"""One console under Ray: the driver shows what a single-process run would print, and nothing of Ray's.

Ray normally streams every worker's and actor's stdout/stderr to the driver, prefixed with
`(RayTrainWorker pid=…)` in ANSI colour: each rank's progress lines, Ray Train's controller notices,
its placement-group cleaner's retries, boto's credential notice. We connect with
`log_to_driver=False` instead, so all of that stays in Ray's session logs (their folder is printed
once), and rank 0's progress reaches the driver through a `DriverLink` actor: the worker pushes
the calls of its display (`RelayedProgress` in graphmer_dist/train/metrics.py), batched, and a thread of
the driver drains them once a second and replays them on a local `Progress` — a rich bar on a
terminal, plain lines otherwise.
"""

from __future__ import annotations

import os
import threading
import time

import ray

from graphmer_dist.train.metrics import Progress

QUIET_INIT = {"log_to_driver": False, "logging_level": "WARNING"}
"""ray.init arguments for every driver of ours (local cluster, --address, `ray job submit`)."""


@ray.remote(num_cpus=0)
class DriverLink:
    """The driver's one actor for a run (each actor is a process to start): rank 0's display events go
    up until the driver drains them (Ray keeps one caller's order), and a stop request goes down — set
    when the driver receives SIGTERM/SIGINT, polled by rank 0 at most once a second (launch/ray_hooks.py).
    Signals do not reach Ray's workers (they run under the raylet, the loop off their main thread)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.signal_name: str | None = None

    def set(self, signal_name: str) -> None:
        self.signal_name = self.signal_name or signal_name

    def get(self) -> str | None:
        return self.signal_name

    def push(self, events: list[tuple]) -> None:
        self.events.extend(events)

    def drain(self) -> list[tuple]:
        events, self.events = self.events, []
        return events


class RelayClient:
    """The workers' end of the relay (graphmer_dist never imports ray, so Ray calls stay here). Events go
    up in batches, at most one actor call per FLUSH_S while progress rows come faster (a benchmark logs
    every step): each call costs the idle DriverLink process CPU the training could use. Anything but a
    progress update is sent at once, with what is queued before it, so order and content are kept."""

    FLUSH_S = 1.0

    def __init__(self, relay) -> None:
        self.relay = relay
        self._queued: list[tuple] = []
        self._last_flush = float("-inf")

    def send(self, event: tuple, wait: bool = False) -> None:
        self._queued.append(event)
        now = time.monotonic()
        if wait or event[0] != "update" or now - self._last_flush >= self.FLUSH_S:
            self._last_flush = now
            ref = self.relay.push.remote(self._queued)
            self._queued = []
            if wait:
                ray.get(ref)


class ConsolePump:
    """The driver's side: drains the relay once a second (what arrives is batched anyway) and replays
    the events."""

    def __init__(self, relay, interval_s: float = 1.0) -> None:
        self.relay, self.interval_s = relay, interval_s
        self.progress: Progress | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="graphmer-console", daemon=True)

    def __enter__(self) -> "ConsolePump":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.pump()  # what the workers sent last (their close() waited until the relay held it)
        if self.progress is not None:
            self.progress.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.pump()

    def pump(self) -> None:
        try:
            events = ray.get(self.relay.drain.remote())
        except ray.exceptions.RayError:  # the cluster is going away; the run's own error says why
            return
        for event in events:
            self.apply(*event)

    def apply(self, kind: str, *args) -> None:
        if kind == "begin":
            if self.progress is not None:  # a retried worker group starts a new display
                self.progress.close()
            self.progress = Progress(args[0], enabled=True)
            self.progress.begin(args[1])
        elif self.progress is not None and kind == "update":
            self.progress.update(*args)
        elif kind == "message":
            (self.progress.message if self.progress is not None else _say)(args[0])
        elif self.progress is not None and kind == "close":
            self.progress.close()
            self.progress = None


def _say(text: str) -> None:
    print(text, flush=True)


def ray_logs_dir() -> str | None:
    """Where this Ray session keeps its processes' logs (workers, controller, raylet)."""
    node = getattr(ray._private.worker, "_global_node", None)
    try:
        return os.path.join(node.get_session_dir_path(), "logs") if node is not None else None
    except AttributeError:
        return None
