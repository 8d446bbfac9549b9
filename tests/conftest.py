"""Shared fixtures: the bundled example site and small synthetic problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import islandgrid
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.site.spec import Site
from islandgrid.twin import rig as twin_rig
from islandgrid.twin import twin as twin_twin
from islandgrid.twin.images import VENDORS
from islandgrid.twin.twin import Twin

#: The API tests' ``view`` (a FakeView) and ``client`` fixtures live with the FakeView.
pytest_plugins = ["api_helpers"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def horinger() -> Site:
    """The seed case, examples/horinger-ai-room.toml."""
    return islandgrid.load_site(EXAMPLES / "horinger-ai-room.toml")


@pytest.fixture(scope="session")
def inputs(horinger: Site) -> InputSeries:
    """The seed case's input series at its own resolution (the controller/twin tests' weather, load, grid)."""
    return build_inputs(horinger)


@pytest.fixture(scope="session")
def horinger_result(horinger: Site) -> islandgrid.Result:
    """One hourly simulated year of the seed case (shared: it takes about a second)."""
    return islandgrid.simulate(horinger)


@pytest.fixture(params=VENDORS)
def twin_vendor(request: pytest.FixtureRequest) -> str:
    """The SunSpec layout the twin's devices play ('conformant', 'second_vendor'): the HIL tests run
    against both with no code change in the controller. A module opts in with
    ``pytestmark = pytest.mark.usefixtures("twin_vendor")``; every twin it builds then plays the vendor."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _twin_plays_the_vendor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Twin built in a test that uses ``twin_vendor`` (by the rig, by ``serve --twin``, by the test) plays it."""
    if "twin_vendor" not in request.fixturenames:
        return
    vendor = request.getfixturevalue("twin_vendor")

    class VendorTwin(Twin):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("vendor", vendor)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(twin_rig, "Twin", VendorTwin)
    monkeypatch.setattr(twin_twin, "Twin", VendorTwin)
    if getattr(request.module, "Twin", None) is Twin:
        monkeypatch.setattr(request.module, "Twin", VendorTwin)
