"""The training engine: one readable loop (trainer.py) whose per-batch work is a registered
step (steps.py: ``bptt`` now, ``dsr`` later); everything else is shared."""
