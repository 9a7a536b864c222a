"""Placeholder replaced by the in-memory span capture plugin (being written)."""
