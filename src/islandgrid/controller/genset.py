"""Genset manager: start with a delay and retries, detect fail-to-start, stop after min run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from islandgrid.twin.plant import GENSET_FAILED, GENSET_RUNNING

Emit = Callable[..., Any]


@dataclass
class GensetCommand:
    """What the manager wants written to the genset controller this tick."""

    run_req: bool
    alarm_reset: bool = False


class GensetManager:
    """Runs the start/stop sequence of one genset.

    States: 'idle', 'starting', 'running', 'retry_wait', 'failed'. A start attempt fails
    when the genset reports its fail-to-start alarm or is not running ``start_timeout_s``
    after the start delay; after ``retries`` further attempts (``retry_wait_s`` apart) the
    manager raises a fail-to-start alarm and stays 'failed' until :meth:`reset` (the
    controller resets it when the grid is back).

    Parameters
    ----------
    start_delay_s, start_timeout_s, retry_wait_s : float
        Start delay of the set, extra time allowed per attempt, wait between attempts [s].
    retries : int
        Attempts after the first.
    min_run_s : float
        Minimum run time before a stop [s].
    """

    def __init__(
        self,
        start_delay_s: float,
        start_timeout_s: float,
        retries: int,
        retry_wait_s: float,
        min_run_s: float,
        emit: Emit,
    ) -> None:
        self.start_delay_s = start_delay_s
        self.start_timeout_s = start_timeout_s
        self.retries = retries
        self.retry_wait_s = retry_wait_s
        self.min_run_s = min_run_s
        self.emit = emit
        self.state = "idle"
        self.attempt = 0
        self.t_cmd_s = 0.0
        self.t_wait_until_s = 0.0
        self.t_running_s = 0.0

    def reset(self) -> None:
        """Back to idle (after a failure, once the grid is back or an operator clears it)."""
        if self.state != "idle":
            self.state = "idle"
            self.attempt = 0

    def _start(self, now_s: float) -> GensetCommand:
        self.attempt += 1
        self.state = "starting"
        self.t_cmd_s = now_s
        self.emit("genset_start", f"genset start, attempt {self.attempt} of {1 + self.retries}", attempt=self.attempt)
        return GensetCommand(run_req=True)

    def tick(self, now_s: float, genset_state: float, want_run: bool, genset_known: bool = True) -> GensetCommand:
        """One step of the sequence; ``genset_state`` is the genset's reported state register."""
        st = int(genset_state)
        if self.state == "idle":
            if want_run:
                self.attempt = 0
                return self._start(now_s)
            return GensetCommand(run_req=False)
        if self.state == "starting":
            if not want_run:
                self.state = "idle"
                self.emit("genset_stop", "genset start cancelled: no longer needed")
                return GensetCommand(run_req=False)
            if genset_known and st == GENSET_RUNNING:
                self.state = "running"
                self.t_running_s = now_s
                self.emit(
                    "genset_running",
                    f"genset running {now_s - self.t_cmd_s:.0f} s after the start command",
                    attempt=self.attempt,
                )
                return GensetCommand(run_req=True)
            timed_out = now_s - self.t_cmd_s > self.start_delay_s + self.start_timeout_s
            if (genset_known and st == GENSET_FAILED) or timed_out:
                cause = "fail-to-start alarm" if st == GENSET_FAILED else "not running in time"
                self.emit(
                    "genset_start_failed", f"genset start attempt {self.attempt} failed: {cause}", attempt=self.attempt
                )
                if self.attempt <= self.retries:
                    self.state = "retry_wait"
                    self.t_wait_until_s = now_s + self.retry_wait_s
                else:
                    self.state = "failed"
                    self.emit(
                        "genset_fail_to_start",
                        f"genset failed to start after {self.attempt} attempts: alarm",
                        attempts=self.attempt,
                    )
                return GensetCommand(run_req=False, alarm_reset=True)
            return GensetCommand(run_req=True)
        if self.state == "retry_wait":
            if not want_run:
                self.state = "idle"
                return GensetCommand(run_req=False)
            if now_s >= self.t_wait_until_s:
                return self._start(now_s)
            return GensetCommand(run_req=False)
        if self.state == "running":
            if genset_known and st != GENSET_RUNNING:
                self.state = "idle"
                self.emit("genset_lost", "genset stopped unexpectedly")
                return GensetCommand(run_req=False, alarm_reset=st == GENSET_FAILED)
            if not want_run and now_s - self.t_running_s >= self.min_run_s:
                self.state = "idle"
                self.emit("genset_stop", f"genset stopped after {now_s - self.t_running_s:.0f} s")
                return GensetCommand(run_req=False)
            return GensetCommand(run_req=True)
        # failed: stays off until reset
        return GensetCommand(run_req=False)

    @property
    def available(self) -> bool:
        """False once the genset has failed to start (no source to count on)."""
        return self.state != "failed"
