"""Rotation strategies. ``STRATEGIES`` maps each registry key to its class."""

from . import baselines, divergence  # noqa: F401  (registers the strategies)
from .base import STRATEGIES, History, RotationStrategy, Target, equal_weights, register

__all__ = ["STRATEGIES", "History", "RotationStrategy", "Target", "equal_weights", "register"]
