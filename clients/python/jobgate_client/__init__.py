"""jobgate's Python client: talk to a jobgate API without writing the polling loop yourself."""
