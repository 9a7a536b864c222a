"""Rules changed through the API, kept per organisation so they survive a restart.

The rules file stays the base: what is stored is the difference between an organisation's
rules and the file's, in the file's shape, and a start applies it on top of the file again.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...exceptions import ConfigError
from ..storage.schema import detection_rules
from .rules import Rule, RuleSet

logger = logging.getLogger("aither.server")


def difference(base: RuleSet, rules: RuleSet) -> dict[str, Any]:
    """What ``rules`` changed from ``base``, as settings that ``base.updated`` turns into ``rules``."""
    changed: dict[str, dict[str, Any]] = {}
    for name, rule in rules.rules.items():
        before = base.rules.get(name)
        if before is None or rule == before:
            continue
        changed[name] = _settings_of(rule)
    out: dict[str, Any] = {"rules": changed} if changed else {}
    if rules.quiet_period_s != base.quiet_period_s:
        out["quiet_period_seconds"] = rules.quiet_period_s
    return out


def _settings_of(rule: Rule) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "enabled": rule.enabled,
        "window": rule.window_s,
        "severity": rule.severity.value,
        "service": rule.service,
        "model": rule.model,
        "environment": rule.environment,
    }
    if rule.threshold is not None:  # event rules without a threshold never get one
        settings["threshold"] = rule.threshold
    return settings


def save(connection: Connection, org_id: str, settings: dict[str, Any]) -> None:
    """Store (or clear, when empty) ``org_id``'s changes from the rules file."""
    connection.execute(sa.delete(detection_rules).where(detection_rules.c.org_id == org_id))
    if settings:
        connection.execute(
            sa.insert(detection_rules).values(
                org_id=org_id, settings=json.dumps(settings), updated_at_ns=time.time_ns()
            )
        )


def load(connection: Connection, base: RuleSet) -> dict[str, RuleSet]:
    """Every organisation's stored rules, applied on top of ``base`` (the rules file).

    A stored change the file no longer allows (a rule gone) is logged and skipped, so a start
    never fails on it; the organisation then has the file's rules.
    """
    out: dict[str, RuleSet] = {}
    for org_id, text in connection.execute(sa.select(detection_rules.c.org_id, detection_rules.c.settings)):
        try:
            out[org_id] = base.updated(json.loads(text), where=f"stored rules of {org_id}")
        except (ConfigError, ValueError) as exc:
            logger.warning("aither server: ignoring the stored detection rules of %s: %s", org_id, exc)
    return out
