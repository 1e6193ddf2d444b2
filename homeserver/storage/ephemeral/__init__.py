"""Stores of ephemeral data: presence, receipts, to-device inboxes."""
