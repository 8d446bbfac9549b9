"""Sizing: a parallel search over designs, each a full simulated year, for the cheapest that meets the targets."""
