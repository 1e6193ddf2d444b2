"""Rooms: creating, sending, membership, redaction, reading, pagination, history visibility, aliases and the room directory."""
