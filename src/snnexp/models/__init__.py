"""Model files (config group ``model``); each registers its builders in ``MODELS``."""

from snnexp.models import sew_7bnet, sew_cifar, sew_mini, sew_resnet  # noqa: F401
