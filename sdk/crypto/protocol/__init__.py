"""The pure crypto building blocks on vodozemac: account, Olm and Megolm sessions, devices and trust, cross-signing, SAS, attachments, signed files, backup keys, secret storage, recovery keys."""
