"""Model files (config group ``model``); each registers its builders in ``MODELS``."""

from snnexp.models import sew_mini  # noqa: F401
