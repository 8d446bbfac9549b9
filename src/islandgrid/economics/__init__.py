"""Life-cycle economics: NPC, CRF, LCOE, payback against the baseline, sensitivity."""
