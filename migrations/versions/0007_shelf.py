"""the shelf: catalogue items per shop, the stock ledger, basket lines and reservations

Revision ID: 0007_shelf
Revises: 0006_region
Create Date: 2026-12-02 20:14:52.319356

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_shelf'
down_revision = '0006_region'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shelf_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.BigInteger(), nullable=True),
    sa.Column('barcode', sa.String(length=64), nullable=True),
    sa.Column('photo_evidence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('limit_period', sa.String(length=8), nullable=True),
    sa.Column('limit_count', sa.Integer(), nullable=True),
    sa.Column('min_stars', sa.Integer(), nullable=True),
    sa.Column('available_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('available_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("limit_period IS NULL OR limit_period IN ('month','quarter','year')", name=op.f('ck_shelf_items_limit_period')),
    sa.CheckConstraint('(limit_period IS NULL) = (limit_count IS NULL)', name=op.f('ck_shelf_items_limit_complete')),
    sa.CheckConstraint('limit_count IS NULL OR limit_count > 0', name=op.f('ck_shelf_items_limit_count_positive')),
    sa.CheckConstraint('points > 0', name=op.f('ck_shelf_items_points_positive')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_shelf_items_stock_nonnegative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_shelf_items_community_id_communities')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_shelf_items_created_by_id_users')),
    sa.ForeignKeyConstraint(['photo_evidence_id'], ['evidence_files.id'], name=op.f('fk_shelf_items_photo_evidence_id_evidence_files')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shelf_items_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shelf_items')),
    sa.UniqueConstraint('community_id', 'shop_id', 'barcode', name='uq_shelf_items_barcode')
    )
    with op.batch_alter_table('shelf_items', schema=None) as batch_op:
        batch_op.create_index('ix_shelf_items_shop_id_id', ['shop_id', 'id'], unique=False)

    op.create_table('redemption_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points_each', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_redemption_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_redemption_lines_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_redemption_lines_household_id_households')),
    sa.ForeignKeyConstraint(['item_id'], ['shelf_items.id'], name=op.f('fk_redemption_lines_item_id_shelf_items')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_redemption_lines_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_lines')),
    sa.UniqueConstraint('redemption_id', 'item_id', 'community_id', name='uq_redemption_lines_item')
    )
    with op.batch_alter_table('redemption_lines', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_lines_household_item', ['household_id', 'item_id', 'created_at'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('pickup_code', sa.String(length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('hold_transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('closing_transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('held', 'collected', 'cancelled', 'expired')", name=op.f('ck_reservations_status')),
    sa.CheckConstraint('points > 0', name=op.f('ck_reservations_points_positive')),
    sa.ForeignKeyConstraint(['closing_transaction_id'], ['ledger_transactions.id'], name=op.f('fk_reservations_closing_transaction_id_ledger_transactions')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_reservations_community_id_communities')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_reservations_created_by_id_users')),
    sa.ForeignKeyConstraint(['hold_transaction_id'], ['ledger_transactions.id'], name=op.f('fk_reservations_hold_transaction_id_ledger_transactions')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_reservations_household_id_households')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_reservations_redemption_id_redemptions')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_reservations_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations')),
    sa.UniqueConstraint('community_id', 'pickup_code', name='uq_reservations_pickup_code')
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index('ix_reservations_household_id_id', ['household_id', 'id'], unique=False)
        batch_op.create_index('ix_reservations_shop_id_pickup_code', ['shop_id', 'pickup_code'], unique=False)
        batch_op.create_index('ix_reservations_status_expires_at', ['status', 'expires_at'], unique=False)

    op.create_table('reservation_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points_each', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_reservation_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_reservation_lines_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_reservation_lines_household_id_households')),
    sa.ForeignKeyConstraint(['item_id'], ['shelf_items.id'], name=op.f('fk_reservation_lines_item_id_shelf_items')),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservations.id'], name=op.f('fk_reservation_lines_reservation_id_reservations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservation_lines')),
    sa.UniqueConstraint('reservation_id', 'item_id', 'community_id', name='uq_reservation_lines_item')
    )
    with op.batch_alter_table('reservation_lines', schema=None) as batch_op:
        batch_op.create_index('ix_reservation_lines_household_item', ['household_id', 'item_id'], unique=False)

    op.create_table('stock_movements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('stock_after', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reservation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('delivery', 'donation', 'loss', 'count', 'redemption', 'reservation', 'release')", name=op.f('ck_stock_movements_reason')),
    sa.CheckConstraint('stock_after IS NULL OR stock_after >= 0', name=op.f('ck_stock_movements_stock_after_nonnegative')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_stock_movements_actor_id_users')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_stock_movements_community_id_communities')),
    sa.ForeignKeyConstraint(['item_id'], ['shelf_items.id'], name=op.f('fk_stock_movements_item_id_shelf_items')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_stock_movements_redemption_id_redemptions')),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservations.id'], name=op.f('fk_stock_movements_reservation_id_reservations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements'))
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index('ix_stock_movements_item_id_id', ['item_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_movements_item_id_id')

    op.drop_table('stock_movements')
    with op.batch_alter_table('reservation_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_reservation_lines_household_item')

    op.drop_table('reservation_lines')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_status_expires_at')
        batch_op.drop_index('ix_reservations_shop_id_pickup_code')
        batch_op.drop_index('ix_reservations_household_id_id')

    op.drop_table('reservations')
    with op.batch_alter_table('redemption_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_redemption_lines_household_item')

    op.drop_table('redemption_lines')
    with op.batch_alter_table('shelf_items', schema=None) as batch_op:
        batch_op.drop_index('ix_shelf_items_shop_id_id')

    op.drop_table('shelf_items')
