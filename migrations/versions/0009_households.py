"""households without smartphones, part 2: freeze columns on households, household proxies

Revision ID: 0009_households
Revises: 0009_shelf
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_households'
down_revision = '0009_shelf'
branch_labels = None
depends_on = None


FROZEN_REASON_CHECK = "frozen_reason IS NULL OR frozen_reason IN ('moved_away','deceased','under_review')"


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds (and drops) the columns in place, the check on the column itself: a batch copy
        # would drop the table every household row is referenced from (it fails with data present)
        op.execute('ALTER TABLE households ADD COLUMN frozen_reason VARCHAR(16) '
                   f'CONSTRAINT ck_households_frozen_reason CHECK ({FROZEN_REASON_CHECK})')
        op.execute('ALTER TABLE households ADD COLUMN frozen_note VARCHAR(255)')
        op.execute('ALTER TABLE households ADD COLUMN frozen_at DATETIME')
    else:
        op.add_column('households', sa.Column('frozen_reason', sa.String(length=16), nullable=True))
        op.add_column('households', sa.Column('frozen_note', sa.String(length=255), nullable=True))
        op.add_column('households', sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=True))
        op.create_check_constraint(op.f('ck_households_frozen_reason'), 'households', FROZEN_REASON_CHECK)

    op.create_table('household_proxies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_household_proxies_community_id_communities')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_household_proxies_granted_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_proxies_household_id_households')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_household_proxies_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_household_proxies_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_proxies'))
    )
    with op.batch_alter_table('household_proxies', schema=None) as batch_op:
        batch_op.create_index('ix_household_proxies_community_id_user_id', ['community_id', 'user_id'], unique=False)
        batch_op.create_index('uq_household_proxies_open', ['community_id', 'household_id', 'user_id'], unique=True,
                              sqlite_where=sa.text('revoked_at IS NULL'),
                              postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade():
    with op.batch_alter_table('household_proxies', schema=None) as batch_op:
        batch_op.drop_index('uq_household_proxies_open', sqlite_where=sa.text('revoked_at IS NULL'),
                            postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index('ix_household_proxies_community_id_user_id')
    op.drop_table('household_proxies')
    if op.get_bind().dialect.name == 'sqlite':
        # a copy (batch mode), with the foreign keys off for the migrations (migrations/env.py): after
        # 0011_tenants copied the table, the check is a table constraint, which SQLite's in-place
        # DROP COLUMN refuses
        with op.batch_alter_table('households', recreate='always') as batch_op:
            batch_op.drop_constraint(op.f('ck_households_frozen_reason'), type_='check')
            for column in ('frozen_at', 'frozen_note', 'frozen_reason'):
                batch_op.drop_column(column)
    else:
        op.drop_constraint(op.f('ck_households_frozen_reason'), 'households', type_='check')
        op.drop_column('households', 'frozen_at')
        op.drop_column('households', 'frozen_note')
        op.drop_column('households', 'frozen_reason')
