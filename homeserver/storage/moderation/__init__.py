"""Storage of moderation: the IP blocklist made through the admin API."""
