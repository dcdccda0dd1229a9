"""Preloaded into the local stack's function processes when faults are asked for (faults.py)."""

from jobgate_cli.local.faults import install

install()
