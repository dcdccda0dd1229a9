"""The jobgate HTTP API (docs/api.md), served by one Lambda behind an API Gateway HTTP API."""
