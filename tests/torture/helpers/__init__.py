"""Helper programs and builders of the torture suite (run as real subprocesses)."""
