"""Integrations with frameworks that call models for you: each imports its framework only when used."""
