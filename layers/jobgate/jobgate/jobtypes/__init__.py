"""The job types: one package each (registration in its __init__, models, workflow, store,
settings, wiring; see docs/job-types.md), and what they share: `JobControl` (control.py) and
`JobTypeSettings` (settings.py). The registry that loads them is jobgate.registry."""
