"""The local stack: jobgate's template, handlers and state machines, run in one process on moto."""
