"""The one Logger every function uses (Powertools JSON logs, service name from the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()
