"""The I/O shell on an `AsyncClient`: `E2EE.install`, the driver, files, recovery and verification."""
