"""What every `jobgate` command may raise: its own module, so commands need not import main."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""
