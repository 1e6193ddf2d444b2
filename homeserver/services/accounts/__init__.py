"""Accounts: registration, login, tokens, devices, user-interactive auth, profiles, account data, filters, the user directory."""
