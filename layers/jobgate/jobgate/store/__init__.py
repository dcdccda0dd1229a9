"""Data access: DynamoDB and S3 behind small classes that speak domain objects."""
