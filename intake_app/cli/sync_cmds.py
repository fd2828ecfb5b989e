"""Command group registered by ``intake_app.cli.build_parser``."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this group's commands to the parser."""
