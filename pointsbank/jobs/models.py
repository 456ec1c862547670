"""The job-run record: one row per (job, community, period), the guard of every periodic job.

The row is written in the same database transaction as the job's work, so the two commit
together or not at all: a process killed mid-run leaves no row and none of the work (the
transaction rolled back), a run that raised leaves a ``failed`` row (its work rolled back)
that the next run resumes with ``attempt + 1``, and a ``completed`` row makes every later
run of that job for that period a no-op. ``running`` exists only inside the uncommitted
transaction of the run itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, utcnow
from pointsbank.extensions import db

RUN_STATUSES = ("running", "completed", "failed")


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (
        sa.UniqueConstraint("job", "community_id", "period"),
        sa.CheckConstraint(sa.text("status IN ('running','completed','failed')"), name="status"),
        sa.CheckConstraint("attempt >= 1", name="attempt_positive"),
        sa.Index("ix_job_runs_community_id_job", "community_id", "job"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(32))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"))
    period: Mapped[str] = mapped_column(sa.String(6))
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    attempt: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: what the run did, e.g. {"statements": 12}
    summary: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
