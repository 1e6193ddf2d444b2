"""Stores of push: unread notification counts."""
