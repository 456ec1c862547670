"""The town and the county: star-rated households (:mod:`stars`) from the community's
``star_levels``. Region dashboards and fair scoring are to come in this package."""
