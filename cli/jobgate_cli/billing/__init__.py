"""The billing meter: what a run of the local stack would cost on AWS, unit by billable unit."""
