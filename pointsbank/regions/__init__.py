"""The town and the county: region dashboards and boards, star-rated households, fair scoring.

* :mod:`dashboard` — a region's communities side by side for a period, in one query per figure family;
* :mod:`stars` — star-rated households (星级文明户) from the community's ``star_levels``;
* :mod:`fairness` — per-recorder statistics and random spot checks with a stored seed.
"""
