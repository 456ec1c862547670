"""The ledger: a double-entry bank of integer points. Nothing else writes postings."""
