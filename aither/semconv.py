"""Every span attribute name aither emits, defined once for the SDK and the server.

The ``gen_ai.*`` names follow the OpenTelemetry GenAI semantic conventions as of
semantic-conventions v1.37 (https://opentelemetry.io/docs/specs/semconv/gen-ai/).
The ``ml.*`` and ``aither.*`` names are aither's own schema, documented in
``docs/span-schema.md``. Bump :data:`SCHEMA_VERSION` when a name or a meaning changes.
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = "1"
"""Version of aither's span schema, sent as ``aither.schema.version`` on every span."""

INSTRUMENTATION_NAME: Final = "aither"
"""The instrumentation scope name of every span aither creates."""

# --- aither.* : on every span -------------------------------------------------------------------
AITHER_SCHEMA_VERSION: Final = "aither.schema.version"
"""Schema version of the span (:data:`SCHEMA_VERSION`)."""
AITHER_SPAN_KIND: Final = "aither.span.kind"
"""What the span records: one of :data:`SPAN_KINDS`."""
AITHER_SPAN_TYPE: Final = "aither.span.type"
"""A user-chosen sub-type of a function or event span: ``tool``, ``agent``, ``retrieval``..."""
AITHER_COST_USD: Final = "aither.cost.usd"
"""Cost of the operation in US dollars (float)."""
AITHER_METADATA_PREFIX: Final = "aither.metadata."
"""Prefix of user metadata: ``aither.metadata.<key>``; scalars as they are, others as JSON."""
AITHER_INPUT: Final = "aither.input"
"""JSON sample of a function's or event's input."""
AITHER_OUTPUT: Final = "aither.output"
"""JSON sample of a function's or event's output."""
AITHER_LABEL_SPAN_ID: Final = "aither.label.span_id"
"""On a label span: hex span id of the prediction span it labels, when the SDK knows it."""

SPAN_KIND_PREDICTION: Final = "prediction"
SPAN_KIND_LABEL: Final = "label"
SPAN_KIND_LLM: Final = "llm"
SPAN_KIND_FUNCTION: Final = "function"
SPAN_KIND_EVENT: Final = "event"
SPAN_KINDS: Final = frozenset(
    {SPAN_KIND_PREDICTION, SPAN_KIND_LABEL, SPAN_KIND_LLM, SPAN_KIND_FUNCTION, SPAN_KIND_EVENT}
)
"""Every value :data:`AITHER_SPAN_KIND` takes."""

# --- ml.* : predictions and labels --------------------------------------------------------------
ML_MODEL_NAME: Final = "ml.model.name"
"""Name the user gave the model (``wrap(model, name=...)``)."""
ML_MODEL_VERSION: Final = "ml.model.version"
"""Version of the model, free-form (``1.2.3``)."""
ML_ENVIRONMENT: Final = "ml.environment"
"""Deployment environment: ``production``, ``staging``..."""
ML_MODEL_FRAMEWORK: Final = "ml.model.framework"
"""Framework of the model: ``sklearn``, ``xgboost``, ``torch``, ``callable``..."""
ML_MODEL_FRAMEWORK_VERSION: Final = "ml.model.framework.version"
"""Version of the framework package, when known."""
ML_MODEL_CLASS: Final = "ml.model.class"
"""Fully qualified class of the model: ``sklearn.ensemble.RandomForestClassifier``."""
ML_MODEL_PARAMETERS: Final = "ml.model.parameters"
"""Number of parameters of the model, where cheap to count (int)."""
ML_METHOD: Final = "ml.method"
"""The traced method: ``predict``, ``predict_proba``, ``__call__``..."""
ML_FEATURES: Final = "ml.features"
"""JSON ``{"sample": ..., "_meta": {type, shape, columns, dtypes, rows, truncated}}`` of the input."""
ML_PREDICTION: Final = "ml.prediction"
"""JSON ``{"sample": ..., "_meta": {...}}`` of the output, whole up to the prediction row cap."""
ML_INPUT_ROWS: Final = "ml.input.rows"
"""Rows in the call's input (int)."""
ML_OUTPUT_ROWS: Final = "ml.output.rows"
"""Rows in the call's output (int)."""
ML_LABEL: Final = "ml.label"
"""JSON of the ground truth: one value, or a list with one value per labelled row."""
ML_LABEL_BATCH: Final = "ml.label.batch"
"""True when :data:`ML_LABEL` is a list of per-row labels rather than one value."""
ML_LABEL_ROW_INDICES: Final = "ml.label.row_indices"
"""JSON list of the prediction rows that :data:`ML_LABEL`'s values belong to, in order.

Absent when a batch label covers rows ``0..n-1`` in order."""

# --- gen_ai.* : OpenTelemetry GenAI semantic conventions ---------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"

# --- the OpenTelemetry resource -----------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
TELEMETRY_SDK_NAME: Final = "aither.sdk.name"
TELEMETRY_SDK_VERSION: Final = "aither.sdk.version"
