"""Webhooks: Standard Webhooks signing, SSRF-safe delivery, retries and redelivery."""
