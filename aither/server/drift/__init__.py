"""Drift and quality: input, output and concept drift, outliers, embeddings, checks of LLM answers.

Row samples gather into windows per model version; a closed window is compared with the
version's reference and opens anomalies through detection. See ``docs/drift.md``.
"""

from __future__ import annotations

from .config import DriftSettings
from .monitor import DriftMonitor, attach, monitor_for

__all__ = ["DriftMonitor", "DriftSettings", "attach", "monitor_for"]
