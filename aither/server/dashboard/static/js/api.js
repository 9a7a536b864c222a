// Every URL and field name the dashboard uses, in one place.
// The anomalies, rules, alert-channel and drift endpoints belong to other parts of the server;
// where a server lacks them they answer 404, and the pages say "not available".

export const ENDPOINTS = {
  session: "/api/v1/session",
  overview: "/api/v1/dashboard/overview",
  series: "/api/v1/dashboard/series",
  latest: "/api/v1/dashboard/latest",
  models: "/api/v1/models",
  metrics: (model) => `/api/v1/models/${encodeURIComponent(model)}/metrics`,
  predictions: "/api/v1/predictions",
  trace: (traceId) => `/api/v1/traces/${encodeURIComponent(traceId)}`,
  llmCalls: "/api/v1/llm-calls", // filters: model, pii, injection, error, risk, user_id, session_id, service
  llmTotals: "/api/v1/llm-calls/totals", // ?group_by=user|session|service|model|provider
  apiKeys: "/api/v1/api-keys",
  apiKey: (id) => `/api/v1/api-keys/${encodeURIComponent(id)}`,
  // detection (docs/detection.md): GET ?since=&severity=&status=&rule=&limit= -> a list
  anomalies: "/api/v1/anomalies",
  acknowledge: (id) => `/api/v1/anomalies/${encodeURIComponent(id)}/acknowledge`,
  resolve: (id) => `/api/v1/anomalies/${encodeURIComponent(id)}/resolve`,
  rules: "/api/v1/rules", // GET; PUT (admin) with the rules file's shape as JSON
  prune: "/api/v1/prune", // POST {older_than: "30d"} (admin)
  // alerts (docs/server.md)
  channels: "/api/v1/alerts/channels",
  channel: (id) => `/api/v1/alerts/channels/${encodeURIComponent(id)}`,
  channelTest: (id) => `/api/v1/alerts/channels/${encodeURIComponent(id)}/test`,
  deliveries: "/api/v1/alerts/deliveries",
  // drift (docs/drift.md)
  drift: (model) => `/api/v1/models/${encodeURIComponent(model)}/drift`,
};

// The anomaly's fields (GET /api/v1/anomalies); its target is flat: kind, service, model,
// version, environment; trace_id is a call that triggered it (event rules).
export const ANOMALY = {
  id: "id",
  rule: "rule",
  type: "anomaly_type",
  severity: "severity",
  method: "detection_method",
  title: "title",
  message: "message",
  action: "recommended_action",
  kind: "kind",
  service: "service",
  model: "model",
  version: "version",
  environment: "environment",
  count: "count",
  firstSeen: "first_seen",
  lastSeen: "last_seen",
  status: "status",
  traceId: "trace_id",
  evidence: "evidence",
};
export const SEVERITIES = ["critical", "high", "medium", "low", "info"];
export const ANOMALY_STATUSES = ["open", "acknowledged", "resolved"];
export const RISK_LEVELS = ["low", "medium", "high", "critical"];
// the five knobs of PUT /api/v1/rules (and quiet_period, in seconds)
export const RULE_KNOBS = ["cost_threshold_usd", "latency_threshold_ms", "error_rate_threshold", "token_threshold", "spike_multiplier"];

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrfToken = null;
export function setCsrf(token) {
  csrfToken = token;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// fetch with the session cookie; writes carry the CSRF token. Throws ApiError with the
// server's message on any non-2xx answer.
export async function api(path, { method = "GET", params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path + query(params), {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, `the server did not answer (${error.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    let detail = data && data.detail !== undefined ? data.detail : data;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new ApiError(response.status, detail || response.statusText);
  }
  return data;
}

// A list endpoint's items, whether it answers a bare list or {items: [...]}.
export function items(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

// GET that turns "this server has no such endpoint" (404/405) into null.
export async function optional(path, options) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error.status === 404 || error.status === 405) return null;
    throw error;
  }
}
