"""Stores of end-to-end encryption data: device keys, cross-signing, device lists, key backups."""
