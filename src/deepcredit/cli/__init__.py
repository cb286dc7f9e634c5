"""The `deepcredit` command line: one module per command group, wiring only."""
