"""Outage survival: REopt-style Markov chain over working generators x battery SoC bins."""
