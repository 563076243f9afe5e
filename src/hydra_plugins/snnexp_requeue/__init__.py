"""snnexp's submitit launchers (Hydra finds launchers in the ``hydra_plugins`` package only)."""
