"""One module per CLI command. Hydra-owned commands define CONFIG_NAME and ``task(cfg, flags)``
(plus optional FLAGS and POSITIONAL); plain commands define ``main(argv) -> int``."""
