"""The shelf of the points supermarket (积分超市): catalogue, stock ledger, baskets, reservations."""
