"""Stores of media: metadata, the encrypted blob format, and the files on disk."""
