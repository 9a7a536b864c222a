"""Alerts: anomalies leave the server through channels (webhook, Slack, PagerDuty, e-mail).

The detection code hands every change of an anomaly to an :class:`AnomalySink` as an
:class:`AnomalyNotice`; the dispatcher delivers it on its own threads, so a channel that is
down never slows ingest.
"""

from .notice import AnomalyNotice, AnomalySink, NullSink

__all__ = ["AnomalyNotice", "AnomalySink", "NullSink"]
