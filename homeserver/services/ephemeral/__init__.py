"""Ephemeral data: typing, receipts, presence and to-device messages."""
