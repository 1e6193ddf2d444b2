"""Stores of search: the full-text index of room events."""
