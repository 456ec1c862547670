"""Regions, communities and their scheme settings, grids, households and residents."""
