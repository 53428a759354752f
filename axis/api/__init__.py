"""The daemon's HTTP APIs: the VXP-compatible API and the native REST API."""
