"""The training engine: one readable loop (trainer.py) over a run that owns its state
(lifecycle.py: start decision, checkpoint dict, best epoch, stop and end records); the method
(methods/: bptt, dsr) owns each optimisation step, steps.py the context it runs in."""
