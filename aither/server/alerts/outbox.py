"""The delivery log as an outbox: deliveries claimed by the lease holder before they are sent.

With several servers on one database, a notice can be made on any of them (event rules run in
the ingest transaction of whichever server took the request), but only the holder of the
lease (:mod:`aither.server.lease`) sends. So a notice becomes pending rows of the delivery log,
each with the notice itself as JSON, written in the transaction that made the notice; the
holder claims each row with one conditional UPDATE (``claim_token`` from NULL to its fencing
token) and sends only what it claimed. A row is claimed once, so it is sent once.

When a holder dies, the next one takes over, at its higher token, the rows the old one had
claimed but not finished:

- never attempted (``attempts = 0``), or waiting for a retry after a failed attempt
  (``next_attempt_at_ns`` set): sent again by the new holder. The second case is the one
  at-least-once edge: the receiver may have got the attempt that failed (a timeout after it
  was read);
- an attempt in flight when the holder died (``attempts > 0``, no ``next_attempt_at_ns``): not
  sent again but logged as failed, "may have been delivered": at most once, so a receiver
  never sees a notice twice because a server died.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..storage.schema import alert_deliveries
from .store import FAILED, PENDING

IN_FLIGHT_LOST: Final = "the server sending it stopped during the attempt; it may have been delivered"


def claimable(connection: Connection, token: int, limit: int) -> list[dict[str, Any]]:
    """Pending rows with a notice that ``token``'s holder may take: unclaimed, or an older holder's."""
    d = alert_deliveries.c
    query = (
        sa.select(alert_deliveries)
        .where(
            d.status == PENDING,
            d.notice.is_not(None),
            sa.or_(d.claim_token.is_(None), d.claim_token < token),
        )
        .order_by(d.id)
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def claim(connection: Connection, row: dict[str, Any], token: int, now_ns: int) -> bool:
    """Take ``row`` for ``token`` if nobody did meanwhile; False if another server was first.

    An older holder's row whose attempt was in flight is logged as failed instead (see the
    module's note), and False comes back.
    """
    d = alert_deliveries.c
    same = d.claim_token.is_(None) if row["claim_token"] is None else d.claim_token == row["claim_token"]
    where = [d.id == row["id"], d.status == PENDING, same]
    in_flight = row["claim_token"] is not None and row["attempts"] > 0 and row["next_attempt_at_ns"] is None
    values: dict[str, Any] = (
        {"status": FAILED, "last_error": IN_FLIGHT_LOST, "claim_token": token}
        if in_flight
        else {"claim_token": token}
    )
    update = alert_deliveries.update().where(*where).values(updated_at_ns=now_ns, **values)
    result = connection.execute(update)
    return result.rowcount == 1 and not in_flight
