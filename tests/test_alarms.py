"""The alarm board: one alarm per condition, latched until cleared and acknowledged (ISA-18.2 sequence)."""

from __future__ import annotations

import pytest

from islandgrid.controller.alarms import AlarmBoard, AlarmKind
from islandgrid.errors import InputError


def test_a_condition_checked_every_period_gives_one_alarm() -> None:
    board = AlarmBoard()
    _first, new = board.raise_(AlarmKind.BMS_TRIP, "contactor open", 10.0, device="pcs")
    assert new
    for k in range(5):
        _a, again = board.raise_(AlarmKind.BMS_TRIP, f"contactor open ({k})", 11.0 + k, device="pcs")
        assert not again
    (only,) = board.snapshot()
    assert only["id"] == "bms_trip:pcs" and only["count"] == 6 and only["raised_epoch_s"] == 10.0
    assert only["message"] == "contactor open (4)"


def test_cleared_alarm_stays_until_acknowledged_and_acked_alarm_leaves_when_cleared() -> None:
    board = AlarmBoard()
    board.raise_("grid_lost", "grid gone", 1.0)
    board.raise_("telemetry_stale", "no heartbeat", 2.0, device="pv")
    assert board.clear("grid_lost", 3.0)
    assert not board.clear("grid_lost", 4.0)  # already cleared: nothing to do
    ids = [a["id"] for a in board.snapshot()]
    assert ids == ["telemetry_stale:pv", "grid_lost:site"]  # active first, then the latched one
    board.acknowledge("grid_lost:site")
    assert [a["id"] for a in board.snapshot()] == ["telemetry_stale:pv"]
    board.acknowledge("telemetry_stale:pv")
    assert board.snapshot()[0]["acknowledged"] and board.is_active("telemetry_stale", "pv")
    board.clear("telemetry_stale", 5.0, device="pv")
    assert board.snapshot() == []


def test_a_raise_after_clear_is_a_new_alarm() -> None:
    board = AlarmBoard()
    board.raise_("genset_failed", "no start", 1.0, device="genset")
    board.clear("genset_failed", 2.0, device="genset")
    _a, new = board.raise_("genset_failed", "no start again", 3.0, device="genset")
    assert new and board.snapshot()[0]["raised_epoch_s"] == 3.0 and board.snapshot()[0]["active"]


def test_unknown_alarm_and_unknown_kind_are_refused() -> None:
    board = AlarmBoard()
    board.raise_("ledger_error", "disk full", 1.0)
    with pytest.raises(InputError, match="ledger_error:site"):
        board.acknowledge("nope:site")
    with pytest.raises(ValueError):
        board.raise_("bogus", "x", 1.0)
