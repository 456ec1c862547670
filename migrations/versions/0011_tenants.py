"""tenants: every distributed table's keys include community_id (issue 13, see pointsbank.tenancy)

* the primary key of every distributed table becomes ``(id, community_id)`` (``user_grids``:
  ``(user_id, grid_id, community_id)``);
* its unique keys include ``community_id`` (``accounts.household_id``, ``vouchers.short_code``,
  ``redemptions.voucher_id``, ``ledger_transactions.reversal_of_id``, ``record_approvals``);
* its foreign keys to other distributed tables become ``(x_id, community_id) -> (id,
  community_id)``; those to ``users`` (coordinator-local) and an offline redemption's keys into the
  voucher's community are dropped (Citus cannot check them).

Data is kept: PostgreSQL changes the constraints in place (adding a composite key checks every
row: a row naming another community's row would stop the migration); SQLite copies each table
(batch mode) with its foreign keys off for the migration (migrations/env.py), then checks them all.
SQLite writes the key ``(id, community_id)`` as ``id INTEGER PRIMARY KEY`` plus a unique key of
the same columns (``pointsbank.database._sqlite_tenant_key``).

The lists below are frozen (they describe this step, not the models of the day).

Revision ID: 0011_tenants
Revises: 0010_notify
Create Date: 2026-12-04 19:20:00

"""
import warnings

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_tenants'
down_revision = '0010_notify'
branch_labels = None
depends_on = None

# (table, constraint, columns, referred table, referred columns)
DROPPED_FOREIGN_KEYS = [
    ('accounts', 'fk_accounts_household_id_households', ['household_id'], 'households', ['id']),
    ('adjustments', 'fk_adjustments_approved_by_id_users', ['approved_by_id'], 'users', ['id']),
    ('adjustments', 'fk_adjustments_household_id_households', ['household_id'], 'households', ['id']),
    ('adjustments', 'fk_adjustments_requested_by_id_users', ['requested_by_id'], 'users', ['id']),
    ('adjustments', 'fk_adjustments_transaction_id_ledger_transactions', ['transaction_id'], 'ledger_transactions', ['id']),
    ('behaviour_records', 'fk_behaviour_records_evidence_id_evidence_files', ['evidence_id'], 'evidence_files', ['id']),
    ('behaviour_records', 'fk_behaviour_records_household_id_households', ['household_id'], 'households', ['id']),
    ('behaviour_records', 'fk_behaviour_records_recorded_by_id_users', ['recorded_by_id'], 'users', ['id']),
    ('behaviour_records', 'fk_behaviour_records_resident_id_residents', ['resident_id'], 'residents', ['id']),
    ('behaviour_records', 'fk_behaviour_records_reversal_transaction_id_ledger_tra_f17a', ['reversal_transaction_id'], 'ledger_transactions', ['id']),
    ('behaviour_records', 'fk_behaviour_records_rulebook_version_id_rulebook_versions', ['rulebook_version_id'], 'rulebook_versions', ['id']),
    ('behaviour_records', 'fk_behaviour_records_transaction_id_ledger_transactions', ['transaction_id'], 'ledger_transactions', ['id']),
    ('devices', 'fk_devices_created_by_id_users', ['created_by_id'], 'users', ['id']),
    ('devices', 'fk_devices_revoked_by_id_users', ['revoked_by_id'], 'users', ['id']),
    ('evidence_files', 'fk_evidence_files_household_id_households', ['household_id'], 'households', ['id']),
    ('evidence_files', 'fk_evidence_files_uploaded_by_id_users', ['uploaded_by_id'], 'users', ['id']),
    ('household_cards', 'fk_household_cards_household_id_households', ['household_id'], 'households', ['id']),
    ('household_cards', 'fk_household_cards_issued_by_id_users', ['issued_by_id'], 'users', ['id']),
    ('household_cards', 'fk_household_cards_revoked_by_id_users', ['revoked_by_id'], 'users', ['id']),
    ('household_proxies', 'fk_household_proxies_granted_by_id_users', ['granted_by_id'], 'users', ['id']),
    ('household_proxies', 'fk_household_proxies_household_id_households', ['household_id'], 'households', ['id']),
    ('household_proxies', 'fk_household_proxies_revoked_by_id_users', ['revoked_by_id'], 'users', ['id']),
    ('household_proxies', 'fk_household_proxies_user_id_users', ['user_id'], 'users', ['id']),
    ('household_stars', 'fk_household_stars_household_id_households', ['household_id'], 'households', ['id']),
    ('households', 'fk_households_grid_id_grids', ['grid_id'], 'grids', ['id']),
    ('ledger_transactions', 'fk_ledger_transactions_actor_id_users', ['actor_id'], 'users', ['id']),
    ('ledger_transactions', 'fk_ledger_transactions_reversal_of_id_ledger_transactions', ['reversal_of_id'], 'ledger_transactions', ['id']),
    ('notifications', 'fk_notifications_household_id_households', ['household_id'], 'households', ['id']),
    ('notifications', 'fk_notifications_recipient_user_id_users', ['recipient_user_id'], 'users', ['id']),
    ('objections', 'fk_objections_raised_by_id_users', ['raised_by_id'], 'users', ['id']),
    ('objections', 'fk_objections_record_id_behaviour_records', ['record_id'], 'behaviour_records', ['id']),
    ('objections', 'fk_objections_resolved_by_id_users', ['resolved_by_id'], 'users', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_device_id_devices', ['device_id'], 'devices', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_household_id_households', ['household_id'], 'households', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_redemption_id_redemptions', ['redemption_id'], 'redemptions', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_settled_by_id_users', ['settled_by_id'], 'users', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_synced_by_id_users', ['synced_by_id'], 'users', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_transaction_id_ledger_transactions', ['transaction_id'], 'ledger_transactions', ['id']),
    ('offline_redemptions', 'fk_offline_redemptions_voucher_id_vouchers', ['voucher_id'], 'vouchers', ['id']),
    ('postings', 'fk_postings_account_id_accounts', ['account_id'], 'accounts', ['id']),
    ('postings', 'fk_postings_transaction_id_ledger_transactions', ['transaction_id'], 'ledger_transactions', ['id']),
    ('record_approvals', 'fk_record_approvals_approver_id_users', ['approver_id'], 'users', ['id']),
    ('record_approvals', 'fk_record_approvals_record_id_behaviour_records', ['record_id'], 'behaviour_records', ['id']),
    ('redemption_lines', 'fk_redemption_lines_household_id_households', ['household_id'], 'households', ['id']),
    ('redemption_lines', 'fk_redemption_lines_item_id_shelf_items', ['item_id'], 'shelf_items', ['id']),
    ('redemption_lines', 'fk_redemption_lines_redemption_id_redemptions', ['redemption_id'], 'redemptions', ['id']),
    ('redemptions', 'fk_redemptions_cashier_id_users', ['cashier_id'], 'users', ['id']),
    ('redemptions', 'fk_redemptions_reversal_transaction_id_ledger_transactions', ['reversal_transaction_id'], 'ledger_transactions', ['id']),
    ('redemptions', 'fk_redemptions_transaction_id_ledger_transactions', ['transaction_id'], 'ledger_transactions', ['id']),
    ('redemptions', 'fk_redemptions_voucher_id_vouchers', ['voucher_id'], 'vouchers', ['id']),
    ('reservation_lines', 'fk_reservation_lines_household_id_households', ['household_id'], 'households', ['id']),
    ('reservation_lines', 'fk_reservation_lines_item_id_shelf_items', ['item_id'], 'shelf_items', ['id']),
    ('reservation_lines', 'fk_reservation_lines_reservation_id_reservations', ['reservation_id'], 'reservations', ['id']),
    ('reservations', 'fk_reservations_closing_transaction_id_ledger_transactions', ['closing_transaction_id'], 'ledger_transactions', ['id']),
    ('reservations', 'fk_reservations_created_by_id_users', ['created_by_id'], 'users', ['id']),
    ('reservations', 'fk_reservations_hold_transaction_id_ledger_transactions', ['hold_transaction_id'], 'ledger_transactions', ['id']),
    ('reservations', 'fk_reservations_household_id_households', ['household_id'], 'households', ['id']),
    ('reservations', 'fk_reservations_redemption_id_redemptions', ['redemption_id'], 'redemptions', ['id']),
    ('residents', 'fk_residents_household_id_households', ['household_id'], 'households', ['id']),
    ('rulebook_versions', 'fk_rulebook_versions_published_by_id_users', ['published_by_id'], 'users', ['id']),
    ('settlement_lines', 'fk_settlement_lines_origin_statement_id_settlement_statements', ['origin_statement_id'], 'settlement_statements', ['id']),
    ('settlement_lines', 'fk_settlement_lines_redemption_id_redemptions', ['redemption_id'], 'redemptions', ['id']),
    ('settlement_lines', 'fk_settlement_lines_statement_id_settlement_statements', ['statement_id'], 'settlement_statements', ['id']),
    ('settlement_statements', 'fk_settlement_statements_confirmed_by_id_users', ['confirmed_by_id'], 'users', ['id']),
    ('settlement_statements', 'fk_settlement_statements_paid_by_id_users', ['paid_by_id'], 'users', ['id']),
    ('settlement_statements', 'fk_settlement_statements_transaction_id_ledger_transactions', ['transaction_id'], 'ledger_transactions', ['id']),
    ('shelf_items', 'fk_shelf_items_created_by_id_users', ['created_by_id'], 'users', ['id']),
    ('shelf_items', 'fk_shelf_items_photo_evidence_id_evidence_files', ['photo_evidence_id'], 'evidence_files', ['id']),
    ('spot_check_items', 'fk_spot_check_items_checked_by_id_users', ['checked_by_id'], 'users', ['id']),
    ('spot_check_items', 'fk_spot_check_items_objection_id_objections', ['objection_id'], 'objections', ['id']),
    ('spot_check_items', 'fk_spot_check_items_record_id_behaviour_records', ['record_id'], 'behaviour_records', ['id']),
    ('spot_check_items', 'fk_spot_check_items_spot_check_id_spot_checks', ['spot_check_id'], 'spot_checks', ['id']),
    ('spot_checks', 'fk_spot_checks_drawn_by_id_users', ['drawn_by_id'], 'users', ['id']),
    ('stock_movements', 'fk_stock_movements_actor_id_users', ['actor_id'], 'users', ['id']),
    ('stock_movements', 'fk_stock_movements_item_id_shelf_items', ['item_id'], 'shelf_items', ['id']),
    ('stock_movements', 'fk_stock_movements_redemption_id_redemptions', ['redemption_id'], 'redemptions', ['id']),
    ('stock_movements', 'fk_stock_movements_reservation_id_reservations', ['reservation_id'], 'reservations', ['id']),
    ('user_grids', 'fk_user_grids_grid_id_grids', ['grid_id'], 'grids', ['id']),
    ('user_grids', 'fk_user_grids_user_id_users', ['user_id'], 'users', ['id']),
    ('users', 'fk_users_household_id_households', ['household_id'], 'households', ['id']),
    ('vouchers', 'fk_vouchers_closing_transaction_id_ledger_transactions', ['closing_transaction_id'], 'ledger_transactions', ['id']),
    ('vouchers', 'fk_vouchers_created_by_id_users', ['created_by_id'], 'users', ['id']),
    ('vouchers', 'fk_vouchers_household_id_households', ['household_id'], 'households', ['id']),
    ('vouchers', 'fk_vouchers_issue_transaction_id_ledger_transactions', ['issue_transaction_id'], 'ledger_transactions', ['id']),
]

ADDED_FOREIGN_KEYS = [
    ('accounts', 'fk_accounts_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('adjustments', 'fk_adjustments_transaction_id_ledger_transactions', ['transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('adjustments', 'fk_adjustments_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('behaviour_records', 'fk_behaviour_records_rulebook_version_id_rulebook_versions', ['rulebook_version_id', 'community_id'], 'rulebook_versions', ['id', 'community_id']),
    ('behaviour_records', 'fk_behaviour_records_transaction_id_ledger_transactions', ['transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('behaviour_records', 'fk_behaviour_records_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('behaviour_records', 'fk_behaviour_records_evidence_id_evidence_files', ['evidence_id', 'community_id'], 'evidence_files', ['id', 'community_id']),
    ('behaviour_records', 'fk_behaviour_records_resident_id_residents', ['resident_id', 'community_id'], 'residents', ['id', 'community_id']),
    ('behaviour_records', 'fk_behaviour_records_reversal_transaction_id_ledger_tra_f17a', ['reversal_transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('evidence_files', 'fk_evidence_files_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('household_cards', 'fk_household_cards_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('household_proxies', 'fk_household_proxies_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('household_stars', 'fk_household_stars_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('households', 'fk_households_grid_id_grids', ['grid_id', 'community_id'], 'grids', ['id', 'community_id']),
    ('ledger_transactions', 'fk_ledger_transactions_reversal_of_id_ledger_transactions', ['reversal_of_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('notifications', 'fk_notifications_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('objections', 'fk_objections_record_id_behaviour_records', ['record_id', 'community_id'], 'behaviour_records', ['id', 'community_id']),
    ('offline_redemptions', 'fk_offline_redemptions_device_id_devices', ['device_id', 'community_id'], 'devices', ['id', 'community_id']),
    ('postings', 'fk_postings_transaction_id_ledger_transactions', ['transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('postings', 'fk_postings_account_id_accounts', ['account_id', 'community_id'], 'accounts', ['id', 'community_id']),
    ('record_approvals', 'fk_record_approvals_record_id_behaviour_records', ['record_id', 'community_id'], 'behaviour_records', ['id', 'community_id']),
    ('redemption_lines', 'fk_redemption_lines_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('redemption_lines', 'fk_redemption_lines_redemption_id_redemptions', ['redemption_id', 'community_id'], 'redemptions', ['id', 'community_id']),
    ('redemptions', 'fk_redemptions_voucher_id_vouchers', ['voucher_id', 'community_id'], 'vouchers', ['id', 'community_id']),
    ('redemptions', 'fk_redemptions_transaction_id_ledger_transactions', ['transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('redemptions', 'fk_redemptions_reversal_transaction_id_ledger_transactions', ['reversal_transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('reservation_lines', 'fk_reservation_lines_reservation_id_reservations', ['reservation_id', 'community_id'], 'reservations', ['id', 'community_id']),
    ('reservation_lines', 'fk_reservation_lines_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('reservations', 'fk_reservations_redemption_id_redemptions', ['redemption_id', 'community_id'], 'redemptions', ['id', 'community_id']),
    ('reservations', 'fk_reservations_closing_transaction_id_ledger_transactions', ['closing_transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('reservations', 'fk_reservations_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('reservations', 'fk_reservations_hold_transaction_id_ledger_transactions', ['hold_transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('residents', 'fk_residents_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
    ('settlement_lines', 'fk_settlement_lines_redemption_id_redemptions', ['redemption_id', 'community_id'], 'redemptions', ['id', 'community_id']),
    ('settlement_lines', 'fk_settlement_lines_statement_id_settlement_statements', ['statement_id', 'community_id'], 'settlement_statements', ['id', 'community_id']),
    ('settlement_lines', 'fk_settlement_lines_origin_statement_id_settlement_statements', ['origin_statement_id', 'community_id'], 'settlement_statements', ['id', 'community_id']),
    ('settlement_statements', 'fk_settlement_statements_transaction_id_ledger_transactions', ['transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('shelf_items', 'fk_shelf_items_photo_evidence_id_evidence_files', ['photo_evidence_id', 'community_id'], 'evidence_files', ['id', 'community_id']),
    ('spot_check_items', 'fk_spot_check_items_record_id_behaviour_records', ['record_id', 'community_id'], 'behaviour_records', ['id', 'community_id']),
    ('spot_check_items', 'fk_spot_check_items_spot_check_id_spot_checks', ['spot_check_id', 'community_id'], 'spot_checks', ['id', 'community_id']),
    ('spot_check_items', 'fk_spot_check_items_objection_id_objections', ['objection_id', 'community_id'], 'objections', ['id', 'community_id']),
    ('stock_movements', 'fk_stock_movements_item_id_shelf_items', ['item_id', 'community_id'], 'shelf_items', ['id', 'community_id']),
    ('user_grids', 'fk_user_grids_grid_id_grids', ['grid_id', 'community_id'], 'grids', ['id', 'community_id']),
    ('vouchers', 'fk_vouchers_closing_transaction_id_ledger_transactions', ['closing_transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('vouchers', 'fk_vouchers_issue_transaction_id_ledger_transactions', ['issue_transaction_id', 'community_id'], 'ledger_transactions', ['id', 'community_id']),
    ('vouchers', 'fk_vouchers_household_id_households', ['household_id', 'community_id'], 'households', ['id', 'community_id']),
]

DROPPED_UNIQUE = [
    ('accounts', 'uq_accounts_household_id', ['household_id']),
    ('household_cards', 'uq_household_cards_community_id_id', ['community_id', 'id']),
    ('ledger_transactions', 'uq_ledger_transactions_reversal_of_id', ['reversal_of_id']),
    ('record_approvals', 'uq_record_approvals_record_id_approver_id', ['record_id', 'approver_id']),
    ('redemptions', 'uq_redemptions_voucher_id', ['voucher_id']),
    ('vouchers', 'uq_vouchers_short_code', ['short_code']),
]

ADDED_UNIQUE = [
    ('accounts', 'uq_accounts_community_id_household_id', ['community_id', 'household_id']),
    ('ledger_transactions', 'uq_ledger_transactions_community_id_reversal_of_id', ['community_id', 'reversal_of_id']),
    ('record_approvals', 'uq_record_approvals_community_id_record_id_approver_id', ['community_id', 'record_id', 'approver_id']),
    ('redemptions', 'uq_redemptions_community_id_voucher_id', ['community_id', 'voucher_id']),
    ('vouchers', 'uq_vouchers_community_id_short_code', ['community_id', 'short_code']),
]

PRIMARY_KEYS = [
    ('accounts', 'pk_accounts', ['id'], ['id', 'community_id']),
    ('adjustments', 'pk_adjustments', ['id'], ['id', 'community_id']),
    ('behaviour_records', 'pk_behaviour_records', ['id'], ['id', 'community_id']),
    ('devices', 'pk_devices', ['id'], ['id', 'community_id']),
    ('evidence_files', 'pk_evidence_files', ['id'], ['id', 'community_id']),
    ('grids', 'pk_grids', ['id'], ['id', 'community_id']),
    ('household_cards', 'pk_household_cards', ['id'], ['id', 'community_id']),
    ('household_proxies', 'pk_household_proxies', ['id'], ['id', 'community_id']),
    ('household_stars', 'pk_household_stars', ['id'], ['id', 'community_id']),
    ('households', 'pk_households', ['id'], ['id', 'community_id']),
    ('ledger_transactions', 'pk_ledger_transactions', ['id'], ['id', 'community_id']),
    ('notice_boards', 'pk_notice_boards', ['id'], ['id', 'community_id']),
    ('notifications', 'pk_notifications', ['id'], ['id', 'community_id']),
    ('objections', 'pk_objections', ['id'], ['id', 'community_id']),
    ('offline_redemptions', 'pk_offline_redemptions', ['id'], ['id', 'community_id']),
    ('postings', 'pk_postings', ['id'], ['id', 'community_id']),
    ('record_approvals', 'pk_record_approvals', ['id'], ['id', 'community_id']),
    ('redemption_lines', 'pk_redemption_lines', ['id'], ['id', 'community_id']),
    ('redemptions', 'pk_redemptions', ['id'], ['id', 'community_id']),
    ('reservation_lines', 'pk_reservation_lines', ['id'], ['id', 'community_id']),
    ('reservations', 'pk_reservations', ['id'], ['id', 'community_id']),
    ('residents', 'pk_residents', ['id'], ['id', 'community_id']),
    ('rulebook_versions', 'pk_rulebook_versions', ['id'], ['id', 'community_id']),
    ('settlement_lines', 'pk_settlement_lines', ['id'], ['id', 'community_id']),
    ('settlement_statements', 'pk_settlement_statements', ['id'], ['id', 'community_id']),
    ('shelf_items', 'pk_shelf_items', ['id'], ['id', 'community_id']),
    ('spot_check_items', 'pk_spot_check_items', ['id'], ['id', 'community_id']),
    ('spot_checks', 'pk_spot_checks', ['id'], ['id', 'community_id']),
    ('stock_movements', 'pk_stock_movements', ['id'], ['id', 'community_id']),
    ('user_grids', 'pk_user_grids', ['user_id', 'grid_id'], ['user_id', 'grid_id', 'community_id']),
    ('vouchers', 'pk_vouchers', ['id'], ['id', 'community_id']),
]


def _tables():
    names = set()
    for rows in (DROPPED_FOREIGN_KEYS, ADDED_FOREIGN_KEYS, DROPPED_UNIQUE, ADDED_UNIQUE, PRIMARY_KEYS):
        names.update(row[0] for row in rows)
    return sorted(names)


def _steps(forward):
    """Per table: the foreign keys and unique keys to drop, the primary key, the unique keys and
    foreign keys to create — forward for the upgrade, the other way round for the downgrade."""
    drop_fks, add_fks = (DROPPED_FOREIGN_KEYS, ADDED_FOREIGN_KEYS) if forward else (ADDED_FOREIGN_KEYS, DROPPED_FOREIGN_KEYS)
    drop_uqs, add_uqs = (DROPPED_UNIQUE, ADDED_UNIQUE) if forward else (ADDED_UNIQUE, DROPPED_UNIQUE)
    keys = {table: (name, new if forward else old) for table, name, old, new in PRIMARY_KEYS}
    return drop_fks, drop_uqs, keys, add_uqs, add_fks


def _postgresql(forward):
    drop_fks, drop_uqs, keys, add_uqs, add_fks = _steps(forward)
    for table, name, *_ in drop_fks:
        op.drop_constraint(name, table, type_='foreignkey')
    for table, name, _ in drop_uqs:
        op.drop_constraint(name, table, type_='unique')
    for table, (name, columns) in keys.items():
        op.drop_constraint(name, table, type_='primary')
        op.create_primary_key(name, table, columns)
    for table, name, columns in add_uqs:
        op.create_unique_constraint(name, table, columns)
    for table, name, columns, referred, referred_columns in add_fks:
        op.create_foreign_key(name, table, referred, columns, referred_columns)


def _sqlite(forward):
    drop_fks, drop_uqs, keys, add_uqs, add_fks = _steps(forward)
    inspector = sa.inspect(op.get_bind())
    for table in _tables():
        # SQLite keeps the names as written (PostgreSQL shortens long ones): found by their columns
        fk_names = {(tuple(fk['constrained_columns']), fk['referred_table']): fk['name']
                    for fk in inspector.get_foreign_keys(table)}
        uq_names = {tuple(uq['column_names']): uq['name'] for uq in inspector.get_unique_constraints(table)}
        with warnings.catch_warnings(), op.batch_alter_table(table, recreate='always') as batch_op:
            # the copy starts from the reflected key (id) and is given (id, community_id): as intended
            warnings.filterwarnings('ignore', message='.*specifies columns .* as primary_key=True')
            for _, _, columns, referred, _ in (row for row in drop_fks if row[0] == table):
                batch_op.drop_constraint(fk_names[tuple(columns), referred], type_='foreignkey')
            for _, _, columns in (row for row in drop_uqs if row[0] == table):
                batch_op.drop_constraint(uq_names[tuple(columns)], type_='unique')
            if table in keys:
                name, columns = keys[table]
                batch_op.create_primary_key(name, columns)
            for _, name, columns in (row for row in add_uqs if row[0] == table):
                batch_op.create_unique_constraint(name, columns)
            for _, name, columns, referred, referred_columns in (row for row in add_fks if row[0] == table):
                batch_op.create_foreign_key(name, referred, columns, referred_columns)
    problems = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
    if problems:
        raise RuntimeError(f'rows whose foreign keys no longer hold after the copy: {problems[:10]}')


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite(True)
    else:
        _postgresql(True)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite(False)
    else:
        _postgresql(False)
