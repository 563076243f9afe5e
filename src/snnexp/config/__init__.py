"""Config tree discovery, structured-config schemas and composition (no torch imports here)."""

from snnexp.config.compose import compose, conf_dir, register_resolvers  # noqa: F401
