"""End-to-end encryption support: device keys, one-time keys, cross-signing, device lists, key backup, and their /sync fields."""
