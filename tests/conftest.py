"""Shared fixtures: the bundled example site and small synthetic problems."""

from __future__ import annotations

from pathlib import Path

import pytest

import islandgrid
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.site.spec import Site
from islandgrid.twin.images import VENDORS

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
    against both with no code change in the controller."""
    return str(request.param)
