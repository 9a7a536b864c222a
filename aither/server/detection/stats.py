"""The ``stats`` summary of a window, read from the rollups (and label rollups for accuracy).

Volume, errors, latency, cost, tokens, PII and injection counts are sums of the rollups (whole
hours from the hourly ones, in SQL), so the answer costs the same for a day of ten calls as for
a day of a million, and a week reads 168 rows per target, not 10,080. Accuracy comes
from the label-join rollups (:mod:`..storage.label_rollups`), never from a scan of rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..storage import label_rollups
from ..storage.label_rollups import MINUTE_NS, minute_of, split_window, tiers
from ..storage.schema import ROLLUP_SUMS, anomalies, rollups_hourly
from ..storage.schema import rollups as rollups_table
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
        else _rollup_sums(connection, org_id, since_ns, until_ns)
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


def _rollup_sums(
    connection: Connection, org_id: str, since_ns: int, until_ns: int
) -> list[tuple[tuple[int, str, str, str, str, str], Rollup]]:
    """The rollups of the minutes ``minute(since) <= minute < until`` (those ``rollups.read``
    returns), summed per (kind, model, version) in SQL: whole hours from ``rollups_hourly``,
    the minutes around them from ``rollups``. Keys as ``rollups.read``'s (minute, service and
    environment left '' and 0: stats does not read them)."""
    end = min(-(-until_ns // MINUTE_NS) * MINUTE_NS, 2**63 - 1)  # the first minute not counted
    out: list[tuple[tuple[int, str, str, str, str, str], Rollup]] = []
    for hourly, low, high in tiers(split_window(minute_of(since_ns), end)):
        table = rollups_hourly if hourly else rollups_table
        r = table.c
        keys = [r.kind, r.model, r.version]
        clauses = [r.org_id == org_id]
        clauses += [r.minute_ns >= low] if low is not None else []
        clauses += [r.minute_ns < high] if high is not None else []
        query = (
            sa.select(
                *keys,
                *(sa.func.sum(r[name]).label(name) for name in ROLLUP_SUMS),
                sa.func.max(r.latency_max_ms).label("latency_max_ms"),
            )
            .where(*clauses)
            .group_by(*keys)
        )
        for row in connection.execute(query).mappings():
            key = (0, row["kind"], "", row["model"], row["version"], "")
            # floats: PostgreSQL's SUM of a BIGINT is a Decimal
            sums = {
                name: float(value or 0)
                for name, value in row.items()
                if name not in ("kind", "model", "version")
            }
            out.append((key, rollups.Rollup.from_row(sums)))
    return out


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
