"""The ingest job's one call into detection, isolated so a detection failure never loses rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from ..ingest.records import DecodedBatch, LlmCallRecord, PredictionRecord, SpanRecord
from .engine import detection_for

logger = logging.getLogger("aither.server")


def detect(
    connection: Connection,
    org_id: str,
    spans: Sequence[SpanRecord],
    llm_calls: Sequence[LlmCallRecord],
    predictions: Sequence[PredictionRecord],
) -> None:
    """Risk levels, rollups and event rules for a batch's new rows, in the ingest transaction.

    Runs in a savepoint: if detection fails, its writes roll back, the failure is counted
    and logged, and the batch's rows are stored all the same.
    """
    detection = detection_for(connection.engine)
    try:
        with connection.begin_nested():
            new = DecodedBatch(list(spans), list(predictions), llm_calls=list(llm_calls))
            detection.on_ingest(connection, org_id, new)
    except Exception:
        detection.errors += 1
        logger.exception("aither server: detection failed on a batch; its rows are stored, unchecked")
