"""Carbon accounting: emission factors, the carbon-flow attribution and the ledger."""
