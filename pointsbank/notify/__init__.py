"""Notifications (issue 15): an outbox written in the event's transaction, a sender with retries,
SMS through a provider, the resident's inbox. See :mod:`pointsbank.notify.services`."""
