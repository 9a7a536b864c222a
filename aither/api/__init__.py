"""The management and query API of the aither server, over httpx, sync and async.

Module-level namespaces act through the default aither client's key and URL::

    import aither
    aither.org.get()                      # Organization(id, name, plan, created_at)
    aither.org.usage()                    # Usage(org_id, period_start, period_end, api_calls, spans, ...)
    aither.user.me()                      # User(id, email, name, role)
    key = aither.api_keys.create(name="ci", scopes=["write"])
    key.secret                            # shown this once
    aither.api_keys.revoke(key_id=key.id)

An explicit client takes its own key and URL (and an injectable ``httpx.Client``)::

    from aither.api import ManagementClient, AsyncManagementClient
    with ManagementClient(api_key=..., base_url=...) as client:
        client.models.metrics("fraud_detector")
    async with AsyncManagementClient(api_key=..., base_url=...) as client:
        await client.org.usage()

HTTP errors raise one exception tree (``aither.exceptions``): 401 ``AuthenticationError``,
403 ``PermissionDenied``, 404 ``NotFound``, 409 ``Conflict``, 429 ``RateLimited``, 5xx
``ServerError``, a server that can't be reached ``ServerUnreachable`` (a ``ServerError``, so
``except ServerError`` catches both), anything else ``APIError``. A bad argument raises
``ConfigError``, a ``ValueError``.
"""

from __future__ import annotations

from ..schema.results import (
    APIKey,
    ClassificationScores,
    CreatedAPIKey,
    Label,
    LabelCounts,
    LabelDelay,
    Latency,
    LlmCall,
    LlmCallTotal,
    Model,
    ModelMetrics,
    Organization,
    Page,
    Prediction,
    RegressionScores,
    Usage,
    User,
    VersionMetrics,
)
from ._async import AsyncManagementClient
from ._detection import (
    AnomaliesResource,
    Anomaly,
    LlmSummary,
    ModelSummary,
    PruneResult,
    RulesResource,
    StatsResource,
    Summary,
)
from ._reference import set_reference
from ._resources import (
    ApiKeysResource,
    LabelsResource,
    LlmCallsResource,
    ModelsResource,
    OrgResource,
    PredictionsResource,
    TracesResource,
    UserResource,
)
from ._sync import ManagementClient, default_management_client
from ._types import Trace

org = OrgResource(default_management_client)
"""The organisation of the default client's key: ``aither.org.get()``, ``aither.org.usage()``."""
user = UserResource(default_management_client)
"""Users: ``aither.user.me()``."""
api_keys = ApiKeysResource(default_management_client)
"""API keys: ``aither.api_keys.list()``, ``.create(name=, scopes=)``, ``.revoke(key_id=)``."""
models = ModelsResource(default_management_client)
"""Models and their metrics: ``aither.api.models.metrics("fraud_detector")``."""
predictions = PredictionsResource(default_management_client)
"""Stored predictions: ``aither.api.predictions.list(model="fraud_detector", labelled=False)``."""
labels = LabelsResource(default_management_client)
"""Labels and their join status: ``aither.api.labels.list(status="ambiguous")``."""
traces = TracesResource(default_management_client)
"""Whole traces: ``aither.api.traces.get(trace_id)``."""
llm_calls = LlmCallsResource(default_management_client)
"""LLM calls: ``aither.api.llm_calls.list(pii=True, user_id="u-42")``, ``.totals(group_by="user")``."""
anomalies = AnomaliesResource(default_management_client)
"""Anomalies: ``aither.anomalies.list(since="24h", severity="high")``, ``.acknowledge(id)``..."""
stats = StatsResource(default_management_client)
"""The summary of a window: ``aither.api.stats.get(since="24h")``."""
rules = RulesResource(default_management_client)
"""Detection rules: ``aither.api.rules.get()``, ``.update({...})``, ``.prune(older_than="7d")``."""

__all__ = [
    "APIKey",
    "AnomaliesResource",
    "Anomaly",
    "ApiKeysResource",
    "AsyncManagementClient",
    "ClassificationScores",
    "CreatedAPIKey",
    "Label",
    "LabelCounts",
    "LabelDelay",
    "LabelsResource",
    "Latency",
    "LlmCall",
    "LlmCallTotal",
    "LlmCallsResource",
    "LlmSummary",
    "ManagementClient",
    "Model",
    "ModelMetrics",
    "ModelSummary",
    "ModelsResource",
    "OrgResource",
    "Organization",
    "Page",
    "Prediction",
    "PredictionsResource",
    "PruneResult",
    "RegressionScores",
    "RulesResource",
    "StatsResource",
    "Summary",
    "Trace",
    "TracesResource",
    "Usage",
    "User",
    "UserResource",
    "VersionMetrics",
    "anomalies",
    "api_keys",
    "default_management_client",
    "labels",
    "llm_calls",
    "models",
    "org",
    "predictions",
    "rules",
    "set_reference",
    "stats",
    "traces",
    "user",
]
