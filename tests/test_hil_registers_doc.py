"""docs/registers.md is generated from the roles and the model definitions: it cannot drift from the code."""

from __future__ import annotations

import json
from pathlib import Path

import sunspec2.mdef as mdef

from islandgrid.devices.roles import ROLES
from islandgrid.devices.sunspec import VENDOR_MODEL_DIR, model_def, vendor_model_ids
from islandgrid.twin.registers_doc import registers_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "registers.md"


def test_registers_doc_matches_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == registers_markdown(), (
        "docs/registers.md is out of date: run `python -m islandgrid.twin.registers_doc > docs/registers.md`"
    )


def test_registers_doc_lists_every_point_of_every_role_and_vendor_model() -> None:
    text = DOC.read_text(encoding="utf-8")
    for r in ROLES.values():
        for b in r.bindings:
            assert f"| `{b.name}` | {b.model} | `{b.point}`" in text, (r.device, b.name)
    assert vendor_model_ids() == (64201, 64202, 64203, 64204, 64205)
    for mid in vendor_model_ids():
        d = model_def(mid)
        assert f"### Model {mid}:" in text
        for p in d.points:
            span = f"{p.offset}" if p.size == 1 else f"{p.offset}-{p.offset + p.size - 1}"
            assert f"| {span} | `{p.name}` | {p.type} |" in text, (mid, p.name)


def test_vendor_models_pass_pysunspec2s_own_validation() -> None:
    """The vendor JSON files are SunSpec model definitions: pysunspec2's validator finds nothing, and the
    declared length L equals the sum of the point sizes (the layout the twin serves and the scan checks)."""
    for mid in vendor_model_ids():
        doc = json.loads((VENDOR_MODEL_DIR / f"model_{mid}.json").read_text(encoding="utf-8"))
        assert mdef.validate_model_def(doc) == "", mid
        declared = next(p["value"] for p in doc["group"]["points"] if p["name"] == "L")
        assert declared == model_def(mid).length == sum(p["size"] for p in doc["group"]["points"][2:])


def test_a_broken_vendor_model_fails_the_validation() -> None:
    """The validation above can fail: a scale factor naming no point is reported."""
    doc = json.loads((VENDOR_MODEL_DIR / "model_64201.json").read_text(encoding="utf-8"))
    doc["group"]["points"][3]["sf"] = "NoSuch_SF"
    assert "NoSuch_SF" in mdef.validate_model_def(doc)
