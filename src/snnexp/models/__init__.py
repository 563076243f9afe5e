"""Model files (config group ``model``); each registers its builders in ``MODELS``."""
