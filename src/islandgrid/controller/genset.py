"""Genset manager: start with a delay and retries, detect fail-to-start, stop after min run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from islandgrid.devices.states import GENSET_FAILED, GENSET_RUNNING

Emit = Callable[..., Any]

#: Longest automatic-retry cool-down reached by doubling [s].
COOLDOWN_MAX_S = 3600.0


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
    controller resets it when the grid is back, an operator through :meth:`retry`) or, while
    the genset is still wanted (load at risk), until ``cooldown_s`` after the failure: then it
    starts a new sequence by itself (``genset_retry``), as the cause (fuel, air, a tripped
    breaker) may have been cleared meanwhile. The cool-down doubles after each automatic retry
    that fails again, up to :data:`COOLDOWN_MAX_S` (or ``cooldown_s`` if longer), and is back to
    ``cooldown_s`` once the set runs or the manager is reset. It rests the starter between sequences
    (the cycle cranking with rest periods of NFPA 110, *Standard for Emergency and Standby
    Power Systems*).

    Parameters
    ----------
    start_delay_s, start_timeout_s, retry_wait_s : float
        Start delay of the set, extra time allowed per attempt, wait between attempts [s].
    retries : int
        Attempts after the first.
    min_run_s : float
        Minimum run time before a stop [s].
    cooldown_s : float
        Wait after a failed sequence before an automatic retry while the genset is wanted [s].
    """

    def __init__(
        self,
        start_delay_s: float,
        start_timeout_s: float,
        retries: int,
        retry_wait_s: float,
        min_run_s: float,
        emit: Emit,
        cooldown_s: float = float("inf"),
    ) -> None:
        self.start_delay_s = start_delay_s
        self.start_timeout_s = start_timeout_s
        self.retries = retries
        self.retry_wait_s = retry_wait_s
        self.min_run_s = min_run_s
        self.emit = emit
        self.cooldown_s = cooldown_s
        self.failed_at_s: float | None = None
        self.auto_retries = 0  # automatic retries since the set last ran or the manager was reset
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
        self.failed_at_s = None
        self.auto_retries = 0

    def retry(self, why: str) -> bool:
        """Leave 'failed' for 'idle' so the next tick that wants the genset starts a new sequence.

        Returns whether the manager was failed (an operator reset of a healthy manager does nothing).
        """
        if self.state != "failed":
            return False
        self.reset()
        self.emit("genset_retry", f"genset manager reset: {why}; a new start sequence follows when needed", why=why)
        return True

    def retry_in_s(self, now_s: float) -> float | None:
        """Seconds left of the cool-down before the automatic retry [s]; None unless 'failed'."""
        if self.state != "failed" or self.failed_at_s is None:
            return None
        return max(self.failed_at_s + self.current_cooldown_s() - now_s, 0.0)

    def current_cooldown_s(self) -> float:
        """The cool-down before the next automatic retry: doubled per failed retry, bounded [s]."""
        return min(self.cooldown_s * 2.0**self.auto_retries, max(COOLDOWN_MAX_S, self.cooldown_s))

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
                self.auto_retries = 0
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
                    self.failed_at_s = now_s
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
        # failed: stays off until reset, or until the cool-down has passed while the genset is wanted
        wait = self.retry_in_s(now_s)
        if want_run and wait is not None and wait <= 0:
            n = self.auto_retries + 1
            self.retry(f"automatic retry {n} after {self.current_cooldown_s():g} s")
            self.auto_retries = n
            return self._start(now_s)
        return GensetCommand(run_req=False)

    @property
    def available(self) -> bool:
        """False once the genset has failed to start (no source to count on)."""
        return self.state != "failed"
