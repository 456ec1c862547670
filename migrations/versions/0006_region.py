"""the town and the county: star levels and star-rated households, and the indexes
the region dashboard reads from

Revision ID: 0006_region
Revises: 0005_settlement_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_region'
down_revision = '0005_settlement_indexes'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('star_levels', sa.JSON(), nullable=True))

    op.create_table('household_stars',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.String(length=4), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('stars >= 0', name=op.f('ck_household_stars_stars_nonnegative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_household_stars_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_stars_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_stars')),
    sa.UniqueConstraint('community_id', 'household_id', 'year', name=op.f('uq_household_stars_community_id_household_id_year'))
    )
    with op.batch_alter_table('household_stars', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_stars_household_id'), ['household_id'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_community_id_kind', ['community_id', 'kind'], unique=False,
                              postgresql_include=['balance'])
    with op.batch_alter_table('behaviour_records', schema=None) as batch_op:
        batch_op.drop_index('ix_behaviour_records_community_id_quarter_key')
        batch_op.create_index('ix_behaviour_records_community_id_quarter_key', ['community_id', 'quarter_key'],
                              unique=False, postgresql_include=['status', 'points', 'household_id'])


def downgrade():
    with op.batch_alter_table('behaviour_records', schema=None) as batch_op:
        batch_op.drop_index('ix_behaviour_records_community_id_quarter_key')
        batch_op.create_index('ix_behaviour_records_community_id_quarter_key', ['community_id', 'quarter_key'],
                              unique=False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_community_id_kind')
    with op.batch_alter_table('household_stars', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_stars_household_id'))
    op.drop_table('household_stars')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops a column in place; a batch copy would drop the table every community row is referenced from
        op.execute('ALTER TABLE communities DROP COLUMN star_levels')
    else:
        op.drop_column('communities', 'star_levels')
