"""The local stack: jobgate's template, handlers and state machines, run on this machine, no AWS account."""
