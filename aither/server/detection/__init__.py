"""Detection: rules, time-series methods, per-minute rollups, risk, anomalies and retention.

Event rules run as rows are stored; window rules run over the rollups about once a second.
See ``docs/detection.md``.
"""

from __future__ import annotations

from .engine import Detection, attach, detection_for
from .rules import DEFAULT_RULES, Rule, RuleSet, load_rules

__all__ = ["DEFAULT_RULES", "Detection", "Rule", "RuleSet", "attach", "detection_for", "load_rules"]
