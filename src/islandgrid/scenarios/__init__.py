"""Decisions under uncertainty: outage, weather and load scenario years, run locally or on a Dask cluster.

``draws`` builds the site's inputs once (:class:`~islandgrid.scenarios.draws.BaseYear`) and draws
scenario k from its own seed stream; ``kernel`` turns draws into input years and runs designs
through the sizing kernel's compiled rules; ``runner`` splits the scenarios into tasks for Dask;
``summary`` reduces the results to quantiles and target probabilities.
"""
