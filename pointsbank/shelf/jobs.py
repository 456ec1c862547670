"""Jobs of the shelf, for the scheduler and the command line.

``expire_reservations()`` gives back the points and the goods of every held reservation past
its time; the scheduler runs it with the voucher sweep (every 5 minutes). It is safe at any
time, twice, and from two processes at once: each batch takes held reservations with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two runs never pick the same reservation, and a
reservation being collected or cancelled right now is left to that request.
"""

from __future__ import annotations

from pointsbank.shelf.services.reservations import expire_batch, expire_reservations

__all__ = ["expire_reservations", "expire_batch"]
