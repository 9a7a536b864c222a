"""The ``stats`` summary of a window, read from the rollups (and label rollups for accuracy).

Volume, errors, latency, cost, tokens, PII and injection counts add up per-minute rollups, so
the answer costs the same for a day of ten calls as for a day of a million. Accuracy comes
from the label-join rollups (:mod:`..storage.label_rollups`), never from a scan of rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..storage import label_rollups
from ..storage.schema import anomalies
from . import rollups
from .rollups import Rollup, histogram_quantile

if TYPE_CHECKING:
    from ..telemetry import TelemetryStore


def _latency(rollup: Rollup) -> tuple[float | None, float | None]:
    if not rollup.count:
        return None, None
    return rollup.latency_sum_ms / rollup.count, histogram_quantile(rollup.histogram, 0.95)


def summary(
    connection: Connection,
    org_id: str,
    since_ns: int,
    until_ns: int,
    telemetry: TelemetryStore | None = None,
) -> dict[str, Any]:
    """LLM totals, per-model prediction figures and anomaly counts for ``[since, until)``.

    With a ``telemetry`` store, rollups and labelled rows come from it; anomalies stay here.
    """
    llm = Rollup()
    models: dict[tuple[str, str], Rollup] = {}
    read = (
        telemetry.read_rollups(org_id, since_ns, until_ns)
        if telemetry is not None
        else rollups.read(connection, org_id, since_ns, until_ns)
    )
    for key, rollup in read:
        if key[1] == "llm":
            llm.merge(rollup)
        else:
            models.setdefault((key[3], key[4]), Rollup()).merge(rollup)
    avg, p95 = _latency(llm)
    llm_out = {
        "total": round(llm.count),
        "successful": round(llm.count - llm.errors),
        "failed": round(llm.errors),
        "success_rate": (llm.count - llm.errors) / llm.count if llm.count else None,
        "total_tokens": round(llm.tokens),
        "total_cost_usd": llm.cost_usd,
        "avg_latency_ms": avg,
        "p95_latency_ms": p95,
        "pii_events": round(llm.pii_calls),
        "injection_attempts": round(llm.injection_calls),
    }
    scored = (
        telemetry.scored_rows(org_id, since_ns, until_ns)
        if telemetry is not None
        else _scored_rows(connection, org_id, since_ns, until_ns)
    )
    model_out = []
    for (name, version), rollup in sorted(models.items()):
        avg, p95 = _latency(rollup)
        labelled, correct, classified = scored.get((name, version), (0, 0, 0))
        model_out.append(
            {
                "model": name,
                "version": version or None,
                "predictions": round(rollup.count),
                "errors": round(rollup.errors),
                "error_rate": rollup.errors / rollup.count if rollup.count else None,
                "avg_latency_ms": avg,
                "p95_latency_ms": p95,
                "labelled_rows": labelled,
                "accuracy": correct / classified if classified else None,
            }
        )
    a = anomalies.c
    found = connection.execute(
        sa.select(sa.func.count()).where(
            a.org_id == org_id, a.first_seen_ns >= since_ns, a.first_seen_ns < until_ns
        )
    ).scalar_one()
    still_open = connection.execute(
        sa.select(sa.func.count()).where(a.org_id == org_id, a.open_key.is_not(None))
    ).scalar_one()
    return {"llm": llm_out, "models": model_out, "anomalies": int(found), "open_anomalies": int(still_open)}


def _scored_rows(
    connection: Connection, org_id: str, since_ns: int, until_ns: int
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Per (model, version or ''): labelled rows, correctly classified, classified; from the
    label rollups (whole hours, minutes, and the edge minutes' rows), exact for any window."""
    found = label_rollups.window_sums(connection, org_id, since_ns, until_ns, ("model", "version"))
    return {
        (model, version): (rollup.rows, rollup.correct, rollup.classified)
        for (model, version), rollup in found.items()
    }
