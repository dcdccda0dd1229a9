"""jobgate: long-running jobs behind a REST API on AWS serverless (shared Lambda layer code)."""
