"""Stores of accounts: users, tokens, devices, profiles, account data, user-interactive auth."""
