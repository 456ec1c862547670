"""Shops, vouchers, QR codes, redemptions and settlement."""
