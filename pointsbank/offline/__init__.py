"""Offline redemption at the counter: devices, the community setting, sync and double spends."""
