"""settlement reads a community's quarter of redemptions from a covering index, and finds the
reversed ones through a partial index

Revision ID: 0005_settlement_indexes
Revises: 0004_settlement_lines_derived
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_settlement_indexes'
down_revision = '0004_settlement_lines_derived'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_community_id_created_at')
        batch_op.create_index('ix_redemptions_community_id_created_at', ['community_id', 'created_at'], unique=False,
                              postgresql_include=['shop_id', 'points', 'value_fen', 'reversed_at'])
        batch_op.create_index('ix_redemptions_community_id_reversed_at', ['community_id', 'reversed_at'], unique=False,
                              postgresql_where=sa.text('reversed_at IS NOT NULL'),
                              sqlite_where=sa.text('reversed_at IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_community_id_reversed_at')
        batch_op.drop_index('ix_redemptions_community_id_created_at')
        batch_op.create_index('ix_redemptions_community_id_created_at', ['community_id', 'created_at'], unique=False)
