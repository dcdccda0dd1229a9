"""The jobgate HTTP API (API.md), served by one Lambda behind an API Gateway HTTP API."""
