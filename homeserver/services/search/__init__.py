"""The search domain: the full-text index of room events and `/search` over it."""
