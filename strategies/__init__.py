"""Rotation rules. ``STRATEGIES`` maps each registry key to its class; ``rule_class`` also loads
``path/to/rule.py:ClassName`` files."""

from . import baselines, breadth, divergence, signal_rule  # noqa: F401  (registers the rules)
from .base import (STRATEGIES, Decisions, History, PanelHistory, Rule, Target, equal_weights, load_rule_file,
                   new_month, new_month_mask, register, rule_class, weights_of)

#: The old name of the base class.
RotationStrategy = Rule

__all__ = ["STRATEGIES", "Decisions", "History", "PanelHistory", "Rule", "RotationStrategy", "Target",
           "equal_weights", "load_rule_file", "new_month", "new_month_mask", "register", "rule_class",
           "weights_of"]
