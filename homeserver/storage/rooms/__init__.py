"""Stores of rooms: events and state, aliases, the directory, and the read queries of rooms and /sync."""
