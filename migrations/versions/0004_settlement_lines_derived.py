"""settlement statements keep their quarter as [starts_at, ends_at); their redemption lines
are read from the redemptions instead of being copied (only adjustments stay in
settlement_lines)

Revision ID: 0004_settlement_lines_derived
Revises: 0003_round
Create Date: 2026-11-23 12:30:00

Existing statements get ``starts_at``/``ends_at`` from their period in their community's time
zone (local midnights, as ``pointsbank.reports.periods`` computes them); then their stored
``kind='redemption'`` lines are deleted: the same lines are now derived from ``redemptions``
(created in ``[starts_at, ends_at)``, not reversed at ``built_at``). The downgrade copies the
derived lines back before dropping the columns.
"""
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

from pointsbank.database import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0004_settlement_lines_derived'
down_revision = '0003_round'
branch_labels = None
depends_on = None

statements = sa.table('settlement_statements', sa.column('id', sa.BigInteger), sa.column('community_id', sa.Integer),
                      sa.column('period', sa.String), sa.column('starts_at', UTCDateTime),
                      sa.column('ends_at', UTCDateTime))
communities = sa.table('communities', sa.column('id', sa.Integer), sa.column('timezone', sa.String))


def _quarter_bounds(period: str, tz: str) -> tuple[datetime, datetime]:
    year, quarter = int(period[:4]), int(period[5:])
    first = date(year, 3 * (quarter - 1) + 1, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return tuple(datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)
                 for day in (first, after))


def upgrade():
    # nullable in the schema (every statement has both): a NOT NULL column would make SQLite rebuild
    # the table, which its foreign keys (the adjustment lines) forbid
    op.add_column('settlement_statements', sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('settlement_statements', sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True))

    conn = op.get_bind()
    pairs = conn.execute(sa.select(statements.c.community_id, statements.c.period, communities.c.timezone)
                         .join_from(statements, communities, communities.c.id == statements.c.community_id)
                         .distinct()).all()
    for community_id, period, tz in pairs:
        start, end = _quarter_bounds(period, tz)
        conn.execute(sa.update(statements).where(statements.c.community_id == community_id,
                                                 statements.c.period == period)
                     .values(starts_at=start, ends_at=end))

    op.execute("DELETE FROM settlement_lines WHERE kind = 'redemption'")


def downgrade():
    op.execute(
        "INSERT INTO settlement_lines (community_id, statement_id, kind, redemption_id, occurred_at, points, "
        "point_value_fen, value_fen, origin_statement_id) "
        "SELECT r.community_id, s.id, 'redemption', r.id, r.created_at, r.points, r.point_value_fen, r.value_fen, NULL "
        "FROM settlement_statements s JOIN redemptions r ON r.community_id = s.community_id AND r.shop_id = s.shop_id "
        "AND r.created_at >= s.starts_at AND r.created_at < s.ends_at "
        "AND (r.reversed_at IS NULL OR r.reversed_at > s.built_at) "
        "ORDER BY s.id, r.created_at, r.id")
    op.drop_column('settlement_statements', 'ends_at')  # SQLite ≥ 3.35: in place, no rebuild
    op.drop_column('settlement_statements', 'starts_at')
