"""Imported first in the e2e stacks' function processes: their DNS answers from tests.e2e.fake_dns."""

from tests.e2e.fake_dns import install

install()
