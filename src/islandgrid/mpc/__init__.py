"""Model-predictive control: a rolling-horizon MILP re-planned every hour on forecasts."""
