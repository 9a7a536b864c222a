"""The ingest job's one call into drift, isolated so a drift failure never loses rows."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Connection

from ..detection.engine import detection_for
from ..ingest.records import DecodedBatch
from .monitor import monitor_for

logger = logging.getLogger("aither.server")


def observe_drift(connection: Connection, org_id: str, new: DecodedBatch) -> None:
    """The samples of a batch's new rows into windows, closed windows judged, in a savepoint of
    the ingest transaction.

    If drift fails, its writes roll back, the failure is counted and logged, and the batch's
    rows are stored all the same.
    """
    monitor = monitor_for(connection.engine)
    try:
        with connection.begin_nested():
            notices = monitor.observe(connection, org_id, new)
    except Exception:
        monitor.errors += 1
        logger.exception("aither server: drift failed on a batch; its rows are stored, unjudged")
        return
    detection = detection_for(connection.engine)
    for notice in notices:
        detection.submit(notice)
