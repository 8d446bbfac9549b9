"""docs/registers.md is generated from the register maps: it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from islandgrid.devices.registers import MAPS, SUNSPEC_BASE
from islandgrid.twin.registers_doc import registers_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "registers.md"


def test_registers_doc_matches_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == registers_markdown(), (
        "docs/registers.md is out of date: run `python -m islandgrid.twin.registers_doc > docs/registers.md`"
    )


def test_registers_doc_lists_every_point_at_its_address() -> None:
    text = DOC.read_text(encoding="utf-8")
    for m in MAPS.values():
        assert f"Model ID **{m.model_id}**" in text
        for p in m.points:
            addr = m.address(p.name)
            span = f"{addr}" if p.width == 1 else f"{addr}-{addr + p.width - 1}"
            assert f"| {span} | `{p.name}` | {p.kind} |" in text, (m.device, p.name)
            assert SUNSPEC_BASE + 4 <= addr < SUNSPEC_BASE + m.total_registers - 2
