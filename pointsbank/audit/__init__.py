"""The audit trail: one row per privileged action, written in the same transaction as the action."""
