"""Rotation Lab: test sector/style rotation hypotheses against market history."""

__version__ = "0.1.0"
