"""Stores of federation: remote servers' verify keys and the key documents we relay as a notary."""
