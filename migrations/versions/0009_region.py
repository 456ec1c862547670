"""the town and the county: spot checks of posted records (fair scoring), and the household in the
key of the quarter's records index (the dashboard counts households per quarter in index order)

Revision ID: 0009_region
Revises: 0008_offline
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_region'
down_revision = '0008_offline'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('spot_checks',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=6), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size >= 1', name=op.f('ck_spot_checks_size_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_spot_checks_community_id_communities')),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['users.id'], name=op.f('fk_spot_checks_drawn_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_checks'))
    )
    with op.batch_alter_table('spot_checks', schema=None) as batch_op:
        batch_op.create_index('ix_spot_checks_community_id_period', ['community_id', 'period'], unique=False)

    op.create_table('spot_check_items',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('spot_check_id', BIG_ID, nullable=False),
    sa.Column('record_id', BIG_ID, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('objection_id', BIG_ID, nullable=True),
    sa.CheckConstraint("status IN ('pending','confirmed','disputed')", name=op.f('ck_spot_check_items_status')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_spot_check_items_community_id_communities')),
    sa.ForeignKeyConstraint(['spot_check_id'], ['spot_checks.id'], name=op.f('fk_spot_check_items_spot_check_id_spot_checks')),
    sa.ForeignKeyConstraint(['record_id'], ['behaviour_records.id'], name=op.f('fk_spot_check_items_record_id_behaviour_records')),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'], name=op.f('fk_spot_check_items_checked_by_id_users')),
    sa.ForeignKeyConstraint(['objection_id'], ['objections.id'], name=op.f('fk_spot_check_items_objection_id_objections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check_items')),
    sa.UniqueConstraint('community_id', 'spot_check_id', 'record_id',
                        name=op.f('uq_spot_check_items_community_id_spot_check_id_record_id'))
    )
    with op.batch_alter_table('spot_check_items', schema=None) as batch_op:
        batch_op.create_index('ix_spot_check_items_community_id_record_id', ['community_id', 'record_id'], unique=False)

    with op.batch_alter_table('behaviour_records', schema=None) as batch_op:
        batch_op.drop_index('ix_behaviour_records_community_id_quarter_key')
        batch_op.create_index('ix_behaviour_records_community_id_quarter_key',
                              ['community_id', 'quarter_key', 'household_id'], unique=False,
                              postgresql_include=['status', 'points'])


def downgrade():
    with op.batch_alter_table('behaviour_records', schema=None) as batch_op:
        batch_op.drop_index('ix_behaviour_records_community_id_quarter_key')
        batch_op.create_index('ix_behaviour_records_community_id_quarter_key', ['community_id', 'quarter_key'],
                              unique=False, postgresql_include=['status', 'points', 'household_id'])
    with op.batch_alter_table('spot_check_items', schema=None) as batch_op:
        batch_op.drop_index('ix_spot_check_items_community_id_record_id')
    op.drop_table('spot_check_items')
    with op.batch_alter_table('spot_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_spot_checks_community_id_period')
    op.drop_table('spot_checks')
