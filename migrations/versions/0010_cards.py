"""household cards: the card table, and vouchers.card_id for the receipt row of a card payment

Revision ID: 0010_cards
Revises: 0009_households
Create Date: 2026-12-03 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_cards'
down_revision = '0009_households'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('household_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=32), nullable=False),
    sa.Column('pin_hash', sa.String(length=255), nullable=False),
    sa.Column('wrong_pins', sa.Integer(), nullable=False),
    sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('wrong_pins >= 0 AND wrong_pins <= 5', name=op.f('ck_household_cards_wrong_pins_range')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_household_cards_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_cards_household_id_households')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_household_cards_issued_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_household_cards_revoked_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_cards')),
    sa.UniqueConstraint('community_id', 'id', name='uq_household_cards_community_id_id')
    )
    with op.batch_alter_table('household_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_cards_household_id'), ['household_id'], unique=False)
        batch_op.create_index('uq_household_cards_live', ['community_id', 'household_id'], unique=True,
                              sqlite_where=sa.text('revoked_at IS NULL'),
                              postgresql_where=sa.text('revoked_at IS NULL'))
    # a plain column, no foreign key: SQLite adds and drops it in place (like 0009_households: a batch
    # copy would drop the table redemptions reference), and cannot drop a column a foreign key names
    op.add_column('vouchers', sa.Column('card_id', sa.Integer(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE vouchers DROP COLUMN card_id')  # in place (see upgrade)
    else:
        op.drop_column('vouchers', 'card_id')
    with op.batch_alter_table('household_cards', schema=None) as batch_op:
        batch_op.drop_index('uq_household_cards_live', sqlite_where=sa.text('revoked_at IS NULL'),
                            postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_household_cards_household_id'))
    op.drop_table('household_cards')
