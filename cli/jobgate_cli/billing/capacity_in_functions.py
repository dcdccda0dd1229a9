"""Preloaded into the local stack's function processes when it meters (capacity_hook.py)."""

from jobgate_cli.billing.capacity_hook import install

install()
