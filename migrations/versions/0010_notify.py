"""notifications (issue 15): the outbox, households' phone and SMS opt-out

Revision ID: 0010_notify
Revises: 0010_cards
Create Date: 2026-12-03 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_notify'
down_revision = '0010_cards'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # in place, as 0009_households: a batch copy of households fails on its foreign keys with data present
        op.execute('ALTER TABLE households ADD COLUMN phone VARCHAR(20)')
        op.execute('ALTER TABLE households ADD COLUMN sms_opt_out BOOLEAN DEFAULT 0 NOT NULL')
    else:
        op.add_column('households', sa.Column('phone', sa.String(length=20), nullable=True))
        op.add_column('households', sa.Column('sms_opt_out', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('recipient_phone', sa.String(length=20), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('inbox','sms')", name=op.f('ck_notifications_channel')),
    sa.CheckConstraint("status IN ('pending','sent','failed','read')", name=op.f('ck_notifications_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_notifications_attempts_nonnegative')),
    sa.CheckConstraint("channel <> 'sms' OR recipient_phone IS NOT NULL", name=op.f('ck_notifications_sms_has_phone')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_notifications_community_id_communities')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_notifications_household_id_households')),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], name=op.f('fk_notifications_recipient_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('community_id', 'idempotency_key', name=op.f('uq_notifications_community_id_idempotency_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notifications_inbox', ['household_id', 'channel', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_inbox')
        batch_op.drop_index('ix_notifications_due')
    op.drop_table('notifications')
    if op.get_bind().dialect.name == 'sqlite':
        for column in ('sms_opt_out', 'phone'):
            op.execute(f'ALTER TABLE households DROP COLUMN {column}')
    else:
        op.drop_column('households', 'sms_opt_out')
        op.drop_column('households', 'phone')
