"""Delivery: opentelemetry-sdk's BatchSpanProcessor and OTLP/HTTP exporter, wrapped to count.

:class:`LedgerSpanProcessor` admits or drops each ended span against a bound in spans and in
bytes and hands admitted ones to the ``BatchSpanProcessor``; :class:`LedgerExporter` encodes
deferred attributes on the export thread and counts what the real exporter delivered.
Together they keep ``created == exported + dropped + failed + queued`` exact.
:class:`~aither.export.otlp.OTLPExporter` is OpenTelemetry's OTLP/HTTP exporter on a session
that rides out a receiver's outage in short steps and reads OTLP partial successes.
"""

from __future__ import annotations

from .ledger import Ledger, Stats
from .pipeline import DeferredPayload, LedgerExporter, LedgerSpanProcessor

__all__ = ["DeferredPayload", "Ledger", "LedgerExporter", "LedgerSpanProcessor", "Stats"]
