"""Flexible compute: training jobs, the policies that place them (fifo, green, optimal, mpc), their
checks and KPIs (README, *Carbon-aware compute*; docs/compute.md)."""
