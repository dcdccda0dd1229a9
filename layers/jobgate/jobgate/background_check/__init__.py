"""The `background-check` job type's logic: vendors, their signed callbacks, and the verdict.

See docs/job-types/background-check.md.
"""
