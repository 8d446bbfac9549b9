"""Forecasters behind one interface (:mod:`islandgrid.forecast.base`) and their skill."""
