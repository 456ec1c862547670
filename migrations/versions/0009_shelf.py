"""the shelf's community setting: the items most redeemed on the notice board

Revision ID: 0009_shelf
Revises: 0009_region
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_shelf'
down_revision = '0009_region'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shelf_settings',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('board_most_redeemed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_shelf_settings_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_shelf_settings'))
    )


def downgrade():
    op.drop_table('shelf_settings')
