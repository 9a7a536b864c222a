"""Alerts: anomalies leave the server through channels (webhook, Slack, PagerDuty, e-mail).

The detection code hands every change of an anomaly to an :class:`AnomalySink` as an
:class:`AnomalyNotice`; the dispatcher delivers it on its own threads, so a channel that is
down never slows ingest.
"""

from .config import ChannelConfig, parse_channel, parse_channels
from .dispatch import AlertDispatcher
from .notice import AnomalyNotice, AnomalySink, NullSink

__all__ = [
    "AlertDispatcher",
    "AnomalyNotice",
    "AnomalySink",
    "ChannelConfig",
    "NullSink",
    "parse_channel",
    "parse_channels",
]
