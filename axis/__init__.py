"""Axis: the daemon (config, directory, routing, intake, delivery, APIs, CLI)."""

__version__ = "0.1.0"
