"""`OlmMachine`, the sans-I/O end-to-end encryption machine, one module per API group."""
