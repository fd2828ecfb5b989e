"""Intake: guided, encrypted intake interviews for labour-market integration case management."""

__version__ = "0.1.0"
