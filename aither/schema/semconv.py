"""Every span attribute name aither emits, defined once for the SDK and the server.

The ``gen_ai.*`` names follow the OpenTelemetry GenAI semantic conventions pinned at
semantic-conventions v1.44.0 (the registry shipped as ``opentelemetry-semantic-conventions``
0.66b2, ``opentelemetry.semconv._incubating.attributes.gen_ai_attributes``; the conventions
now live in https://github.com/open-telemetry/semantic-conventions-genai). ``error.type``,
``server.*`` and ``http.*`` are the general conventions of the same version.
The ``ml.*`` and ``aither.*`` names are aither's own schema, documented in
``docs/span-schema.md``. The SDK and the server both import this module; ``aither.semconv``
re-exports it for existing imports. Bump :data:`SCHEMA_VERSION` when a name or a meaning changes.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AITHER_COST_PRICE_MODEL",
    "AITHER_COST_SOURCE",
    "AITHER_COST_UNAVAILABLE",
    "AITHER_COST_UNKNOWN_MODEL",
    "AITHER_COST_USD",
    "AITHER_EMBEDDING_PROMPT",
    "AITHER_EMBEDDING_RESPONSE",
    "AITHER_INJECTION_DETECTED",
    "AITHER_INJECTION_RULES",
    "AITHER_INJECTION_SCORE",
    "AITHER_INPUT",
    "AITHER_LABEL_SPAN_ID",
    "AITHER_LLM_CLIENT_NAME",
    "AITHER_LLM_CONTENT_TRUNCATED",
    "AITHER_LLM_ERRORS",
    "AITHER_LLM_RECORDED",
    "AITHER_LLM_RESPONSE_UNREAD",
    "AITHER_LLM_STREAM_CHUNKS",
    "AITHER_LLM_STREAM_END",
    "AITHER_LLM_STREAM_USAGE_REQUESTED",
    "AITHER_METADATA_PREFIX",
    "AITHER_OUTPUT",
    "AITHER_PII_DETECTED",
    "AITHER_PII_INPUT_PREFIX",
    "AITHER_PII_MASKED",
    "AITHER_PII_OUTPUT_PREFIX",
    "AITHER_PII_SCAN_TRUNCATED",
    "AITHER_SCHEMA_VERSION",
    "AITHER_SPAN_KIND",
    "AITHER_SPAN_TYPE",
    "COST_SOURCE_CALLER",
    "ENDUSER_ID",
    "ERROR_TYPE",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_EMBEDDINGS_DIMENSION_COUNT",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_CHAT",
    "GEN_AI_OPERATION_EMBEDDINGS",
    "GEN_AI_OPERATION_GENERATE_CONTENT",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OPERATION_TEXT_COMPLETION",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_OUTPUT_TYPE",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_CHOICE_COUNT",
    "GEN_AI_REQUEST_ENCODING_FORMATS",
    "GEN_AI_REQUEST_FREQUENCY_PENALTY",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_PRESENCE_PENALTY",
    "GEN_AI_REQUEST_SEED",
    "GEN_AI_REQUEST_STOP_SEQUENCES",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_REQUEST_TOP_K",
    "GEN_AI_REQUEST_TOP_P",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK",
    "GEN_AI_SYSTEM_INSTRUCTIONS",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "HTTP_RESPONSE_STATUS_CODE",
    "INSTRUMENTATION_NAME",
    "LLM_STREAM_ENDS",
    "LLM_STREAM_END_CLOSED",
    "LLM_STREAM_END_COMPLETED",
    "LLM_STREAM_END_ERROR",
    "LLM_STREAM_END_GARBAGE_COLLECTED",
    "ML_ENVIRONMENT",
    "ML_FEATURES",
    "ML_FEATURES_STATS_SAMPLE",
    "ML_INPUT_ROWS",
    "ML_LABEL",
    "ML_LABEL_BATCH",
    "ML_LABEL_ROW_INDICES",
    "ML_METHOD",
    "ML_MODEL_CLASS",
    "ML_MODEL_FINGERPRINT",
    "ML_MODEL_FRAMEWORK",
    "ML_MODEL_FRAMEWORK_VERSION",
    "ML_MODEL_NAME",
    "ML_MODEL_PARAMETERS",
    "ML_MODEL_PARAMS",
    "ML_MODEL_VERSION",
    "ML_OUTPUT_ROWS",
    "ML_PREDICTION",
    "ML_PREDICTION_STATS_SAMPLE",
    "OPENAI_REQUEST_SERVICE_TIER",
    "OPENAI_RESPONSE_SERVICE_TIER",
    "OPENAI_RESPONSE_SYSTEM_FINGERPRINT",
    "PII_TYPES",
    "SCHEMA_VERSION",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE_NAME",
    "SESSION_ID",
    "SPAN_KINDS",
    "SPAN_KIND_EVENT",
    "SPAN_KIND_FUNCTION",
    "SPAN_KIND_LABEL",
    "SPAN_KIND_LLM",
    "SPAN_KIND_PREDICTION",
    "TELEMETRY_SDK_NAME",
    "TELEMETRY_SDK_VERSION",
]

SCHEMA_VERSION: Final = "2"
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
ML_MODEL_PARAMS: Final = "ml.model.params"
"""JSON ``{name: value}`` of a scikit-learn-style model's ``get_params(deep=False)``, values as
JSON scalars; on the first prediction span of each wrapped model only."""
ML_MODEL_FINGERPRINT: Final = "ml.model.fingerprint"
"""``sha256:<hex>`` of the pickled fitted model (the original README's model id), computed on
the export thread; on the first prediction span of each wrapped model only."""
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

# --- LLM calls: more of the GenAI conventions (v1.44.0, see the module docstring) ----------------
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
"""True when the request asked for a streamed response."""
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
"""The output the request asked for: ``text`` or ``json`` (a JSON response format)."""
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from the provider's cache; included in ``gen_ai.usage.input_tokens``."""
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
"""Input tokens written to the provider's cache; included in ``gen_ai.usage.input_tokens``."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens spent on reasoning; included in ``gen_ai.usage.output_tokens``."""
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Seconds from issuing a streamed request to receiving its first chunk (float)."""
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
"""Opt-in: JSON of the prompt messages, ``[{"role", "parts": [{"type", "content"...}]}]``."""
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
"""Opt-in: JSON of the completion messages, with their ``finish_reason``."""
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
"""Opt-in: JSON of the system instructions given apart from the messages, ``[{"type", "content"}]``."""
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
ERROR_TYPE: Final = "error.type"
"""Class name of the exception that ended the operation (the provider's error type)."""
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
"""HTTP status of a provider's error response (int)."""
SERVER_ADDRESS: Final = "server.address"
"""Host of the provider's API."""
SERVER_PORT: Final = "server.port"
"""Port of the provider's API (int)."""

GEN_AI_OPERATION_CHAT: Final = "chat"
GEN_AI_OPERATION_TEXT_COMPLETION: Final = "text_completion"
GEN_AI_OPERATION_GENERATE_CONTENT: Final = "generate_content"
GEN_AI_OPERATION_EMBEDDINGS: Final = "embeddings"

# --- aither.* on LLM spans -------------------------------------------------------------------------
AITHER_LLM_CLIENT_NAME: Final = "aither.llm.client.name"
"""The ``name`` given to ``aither.wrap(client, name=...)``."""
AITHER_LLM_STREAM_CHUNKS: Final = "aither.llm.stream.chunks"
"""Chunks a streamed response handed to the caller (int)."""
AITHER_LLM_STREAM_END: Final = "aither.llm.stream.end"
"""How a stream ended: ``completed``, ``closed`` (early, by the caller), ``error``, ``garbage_collected``."""
LLM_STREAM_END_COMPLETED: Final = "completed"
"""The stream was read to its end."""
LLM_STREAM_END_CLOSED: Final = "closed"
"""The caller closed the stream (``close()``, a ``with`` exit) before its end."""
LLM_STREAM_END_ERROR: Final = "error"
"""Reading the stream raised; the span has the error."""
LLM_STREAM_END_GARBAGE_COLLECTED: Final = "garbage_collected"
"""The stream was dropped unfinished and collected."""
LLM_STREAM_ENDS: Final = frozenset(
    {LLM_STREAM_END_COMPLETED, LLM_STREAM_END_CLOSED, LLM_STREAM_END_ERROR, LLM_STREAM_END_GARBAGE_COLLECTED}
)
"""Every value :data:`AITHER_LLM_STREAM_END` takes."""
AITHER_LLM_STREAM_USAGE_REQUESTED: Final = "aither.llm.stream.usage_requested"
"""True when aither asked the provider for the stream's usage the caller did not ask for; the
usage-only chunk is then kept from the caller (see docs/llm.md)."""
AITHER_LLM_RESPONSE_UNREAD: Final = "aither.llm.response_unread"
"""True when the caller asked for the raw HTTP response, so the span has no response attributes."""
AITHER_LLM_CONTENT_TRUNCATED: Final = "aither.llm.content.truncated"
"""True when captured prompt or completion content was cut to the content size limit."""

AITHER_COST_SOURCE: Final = "aither.cost.source"
"""The versioned price table that priced :data:`AITHER_COST_USD`: ``genai-prices 0.2.3``."""
AITHER_COST_PRICE_MODEL: Final = "aither.cost.price_model"
"""The model of the price table whose prices were used (``gpt-4o-mini``)."""
AITHER_COST_UNKNOWN_MODEL: Final = "aither.cost.unknown_model"
"""True when the price table does not know the model: the call is not priced (never as $0)."""
AITHER_COST_UNAVAILABLE: Final = "aither.cost.unavailable"
"""Why a call with a known model was not priced: ``no_usage``, ``invalid_usage`` or ``no_price_table``."""

AITHER_PII_DETECTED: Final = "aither.pii.detected"
"""True when the prompt or the completion holds personal data (see ``aither.pii.input.*``)."""
AITHER_PII_INPUT_PREFIX: Final = "aither.pii.input."
"""``aither.pii.input.<type>``: matches of one type in the prompt (int; absent when 0)."""
AITHER_PII_OUTPUT_PREFIX: Final = "aither.pii.output."
"""``aither.pii.output.<type>``: matches of one type in the completion (int; absent when 0)."""
AITHER_PII_MASKED: Final = "aither.pii.masked"
"""True when personal data in the captured content was masked before export."""
AITHER_PII_SCAN_TRUNCATED: Final = "aither.pii.scan_truncated"
"""True when the text was longer than the scan limit and only its start was scanned."""
PII_TYPES: Final = ("email", "phone", "credit_card", "ssn", "ipv4", "ipv6")
"""Every ``<type>`` of ``aither.pii.input.<type>`` and ``aither.pii.output.<type>``."""

AITHER_INJECTION_SCORE: Final = "aither.injection.score"
"""Heuristic prompt-injection score of the prompt, 0.0 to 1.0 (float)."""
AITHER_INJECTION_RULES: Final = "aither.injection.rules"
"""The injection rules the prompt matched (string[]; absent when none)."""
AITHER_INJECTION_DETECTED: Final = "aither.injection.detected"
"""True when :data:`AITHER_INJECTION_SCORE` reaches the detection threshold (0.5)."""

# --- who and in what context: ``aither.context(...)``, ``wrap(..., user_id=...)`` ---------------
ENDUSER_ID: Final = "enduser.id"
"""The end user a span acted for (OpenTelemetry's ``enduser.id``): ``user_id=``."""
SESSION_ID: Final = "session.id"
"""The session a span belongs to (OpenTelemetry's ``session.id``): ``session_id=``."""

# --- LLM calls recorded with ``aither.log_llm_call`` ----------------------------------------------
AITHER_LLM_ERRORS: Final = "aither.llm.errors"
"""The errors a recorded call reported (string[]); the span's status is then ERROR."""
AITHER_LLM_RECORDED: Final = "aither.llm.recorded"
"""True on a call recorded with ``aither.log_llm_call`` (not observed by a wrapped client)."""
COST_SOURCE_CALLER: Final = "caller"
""":data:`AITHER_COST_SOURCE` of a cost the caller gave (``log_llm_call(cost_usd=...)``)."""
# --- drift (issue 14): unbiased row samples and embeddings -----------------------------------------
ML_FEATURES_STATS_SAMPLE: Final = "ml.features.stats_sample"
"""JSON ``{"columns": [...], "rows": [[...]], "index": [...], "of": n}``: input rows drawn at
random (seeded) from the call's ``n`` rows, for drift statistics; ``ml.features`` keeps the
first rows for display."""
ML_PREDICTION_STATS_SAMPLE: Final = "ml.prediction.stats_sample"
"""JSON ``{"values": [...], "index": [...]}``: the outputs of the same rows as
:data:`ML_FEATURES_STATS_SAMPLE`."""
AITHER_EMBEDDING_PROMPT: Final = "aither.embedding.prompt"
"""The prompt's embedding vector as base64 of little-endian float32 (``log_llm_call`` when given;
wrapped embeddings calls with ``capture_embeddings``); the server's embedding drift reads it."""
AITHER_EMBEDDING_RESPONSE: Final = "aither.embedding.response"
"""The response's embedding vector, the same way (``log_llm_call(response_embedding=...)``)."""
