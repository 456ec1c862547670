"""The scheduled jobs of the quarterly round and their run guard.

* :mod:`models` — ``JobRun``, one row per (job, community, period);
* :mod:`guard` — ``run_guarded``: advisory lock + job-run row in the job's own transaction;
* :mod:`registry` — the periodic jobs and which periods are due;
* :mod:`runner` — ``execute`` one run, ``catch_up`` everything due;
* :mod:`scheduler` — the APScheduler process (``pointsbank scheduler``);
* :mod:`cli` — ``pointsbank jobs`` and ``pointsbank scheduler``.
"""

from pointsbank.jobs.cli import commands
from pointsbank.jobs.models import JobRun

__all__ = ["JobRun", "commands"]
