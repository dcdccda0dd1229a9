"""The work of the `bulk-import` job type: plan byte-range chunks, validate and load them, report."""
