// The pages. Each takes the route and returns the nodes to show; errors propagate to the
// shell, which shows them as a message.

import { ANOMALY, ENDPOINTS, RISK_LEVELS, api, items, optional } from "./api.js";
import { can, link, render, window_ } from "./app.js";
import {
  anomaliesPage, anomalyTable, channelsSection, deliveriesTable, driftSection, loadAnomalies, openCount, retentionSection, rulesSection,
} from "./ops.js";
import {
  emptyState, fmtInt, fmtMs, fmtPct, fmtScore, fmtTime, fmtUsd, h, json, lineChart, message, num, sparkline, table, td,
} from "./ui.js";

const BUCKETS = 48;

// ---- overview ---------------------------------------------------------------------------

async function overview(route) {
  const range = window_(route);
  const [data, anomalies] = await Promise.all([
    api(ENDPOINTS.overview, { params: { since: range.since, until: range.until, buckets: BUCKETS } }),
    loadAnomalies({ since: range.since, limit: 500 }), // open and acknowledged count: not yet resolved
  ]);
  const out = [h("h1", {}, "Overview")];
  out.push(h("h2", {}, "ML models"));
  if (!data.models.length) out.push(emptyState("predictions"));
  else
    out.push(
      table(
        ["Model", "Version", "Environment", { label: "Predictions", num: true }, { label: "Error rate", num: true },
          { label: "p50", num: true }, { label: "p99", num: true }, { label: "Open anomalies", num: true }, "Volume"],
        data.models.map((m) =>
          h("tr", { "data-model": m.name, "data-version": m.version ?? "" },
            td(h("a", { href: link("model", [m.name]) }, m.name)),
            td(m.version ?? "—"),
            td(m.environment ?? "—"),
            num(fmtInt(m.predictions), { "data-field": "predictions" }),
            num(fmtPct(m.error_rate), { "data-field": "error_rate", class: m.errors ? "num error-text" : "num" }),
            num(fmtMs(m.latency_p50_ms)),
            num(fmtMs(m.latency_p99_ms)),
            num(openCount(anomalies, m.name), { "data-field": "open_anomalies" }),
            td(sparkline(m.series.map((p) => p.count), `${m.name} predictions per bucket`)),
          ),
        ),
        { "data-testid": "models-table" },
      ),
    );
  out.push(h("h2", {}, "LLM services"));
  if (!data.llm.length) out.push(h("p", { class: "muted" }, "No LLM calls in this range: calls through aither.instrument_openai() (or another LLM adapter) show here."));
  else out.push(llmSummaryTable(data.llm, anomalies));
  if (anomalies === null) out.push(h("p", { class: "muted" }, "Anomaly detection is not available on this server."));
  return out;
}

function llmSummaryTable(rows, anomalies = null) {
  return table(
    ["Model", "Provider", { label: "Calls", num: true }, { label: "Error rate", num: true }, { label: "p50", num: true },
      { label: "p99", num: true }, { label: "Cost", num: true }, { label: "Tokens in/out", num: true }, "Flags", { label: "Open anomalies", num: true }, "Calls"],
    rows.map((m) =>
      h("tr", { "data-llm-model": m.model },
        td(h("a", { href: link("llm", [], { model: m.model }) }, m.model)),
        td(m.provider ?? "—"),
        num(fmtInt(m.calls), { "data-field": "calls" }),
        num(fmtPct(m.error_rate)),
        num(fmtMs(m.latency_p50_ms)),
        num(fmtMs(m.latency_p99_ms)),
        num(fmtUsd(m.cost_usd), { "data-field": "cost" }),
        num(`${fmtInt(m.input_tokens)} / ${fmtInt(m.output_tokens)}`),
        td(m.pii_flagged ? h("span", { class: "flag bad" }, `PII ${m.pii_flagged}`) : null,
          m.injection_flagged ? h("span", { class: "flag bad" }, `injection ${m.injection_flagged}`) : null),
        num(openCount(anomalies, m.model), { "data-field": "open_anomalies" }),
        td(sparkline(m.series.map((p) => p.count), `${m.model} calls per bucket`)),
      ),
    ),
    { "data-testid": "llm-table" },
  );
}

const GROUPS = ["user", "session", "service", "model", "provider"];

function totalsTable(route, totals) {
  const choose = h("nav", { class: "pager", "aria-label": "Totals by" },
    GROUPS.map((g) => (g === totals.group_by ? h("strong", {}, g) : h("a", { href: link("llm", [], { ...Object.fromEntries(route.params), group_by: g }) }, g))));
  const rows = totals.items.map((t) => h("tr", { "data-key": t.key ?? "" },
    td(t.key ?? "(not given)"), num(fmtInt(t.calls)), num(fmtInt(t.errors)), num(`${fmtInt(t.input_tokens)} / ${fmtInt(t.output_tokens)}`), num(fmtUsd(t.cost_usd))));
  return h("div", {}, choose,
    rows.length ? table([totals.group_by, { label: "Calls", num: true }, { label: "Errors", num: true }, { label: "Tokens in/out", num: true }, { label: "Cost", num: true }], rows, { "data-testid": "llm-totals" }) : h("p", { class: "muted" }, "No calls."));
}

// ---- model ------------------------------------------------------------------------------

async function model(route) {
  const name = route.args[0];
  if (!name) return message("Pick a model on the overview.", "error");
  const range = window_(route);
  const version = route.params.get("version") || undefined;
  // The drift section is asked for at once, beside the metrics, not after them: the page then
  // waits for the slower of the two rather than their sum. (Its failure shows in its section.)
  const drift = driftSection(name, version);
  drift.catch(() => {});
  const [metrics, series, anomalies] = await Promise.all([
    optional(ENDPOINTS.metrics(name), { params: { since: range.since, until: range.until } }),
    api(ENDPOINTS.series, { params: { model: name, version, since: range.since, until: range.until, buckets: 60 } }),
    loadAnomalies({ since: range.since, limit: 500 }),
  ]);
  const out = [h("h1", {}, `Model ${name}`)];
  if (metrics === null || !metrics.versions.length) {
    out.push(emptyState(`predictions of ${name}`));
    return out;
  }
  out.push(h("p", {}, h("a", { href: link("predictions", [], { model: name, version }) }, "See its predictions")));
  out.push(h("h2", {}, "Versions side by side"));
  const versions = metrics.versions;
  const row = (label, fn, field) =>
    h("tr", {}, h("th", { scope: "row" }, label), versions.map((v) => num(fn(v), field ? { "data-field": field, "data-version": v.version ?? "" } : {})));
  out.push(
    h("div", { class: "table-wrap" },
      h("table", { "data-testid": "versions-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), versions.map((v) => h("th", { scope: "col", class: "num" }, v.version ?? "(none)")))),
        h("tbody", {},
          row("Predictions", (v) => fmtInt(v.predictions), "predictions"),
          row("Rows", (v) => fmtInt(v.rows)),
          row("Error rate", (v) => fmtPct(v.error_rate), "error_rate"),
          row("Latency p50", (v) => fmtMs(v.latency_ms.p50)),
          row("Latency p99", (v) => fmtMs(v.latency_ms.p99)),
          row("Label coverage", (v) => fmtPct(v.label_coverage), "label_coverage"),
          row("Label delay p50", (v) => (v.label_delay_s && v.label_delay_s.p50 !== null ? `${v.label_delay_s.p50.toFixed(1)} s` : "—")),
          row("Accuracy", (v) => fmtScore(v.classification?.accuracy), "accuracy"),
          row("Precision", (v) => fmtScore(v.classification?.precision)),
          row("Recall", (v) => fmtScore(v.classification?.recall)),
          row("F1", (v) => fmtScore(v.classification?.f1), "f1"),
          row("MAE", (v) => fmtScore(v.regression?.mae), "mae"),
          row("RMSE", (v) => fmtScore(v.regression?.rmse)),
        ),
      ),
    ),
  );
  out.push(h("h2", {}, "Over time"));
  const pts = series.points;
  const regression = versions.some((v) => v.regression);
  out.push(
    h("div", { class: "cards" },
      lineChart(pts.map((p) => ({ t: p.t, value: p.count })), { title: "Predictions", format: fmtInt }),
      lineChart(pts.map((p) => ({ t: p.t, value: p.latency_ms })), { title: "Mean latency", format: fmtMs }),
      lineChart(pts.map((p) => ({ t: p.t, value: p.count ? p.errors / p.count : null })), { title: "Error rate", format: fmtPct }),
      regression
        ? lineChart(pts.map((p) => ({ t: p.t, value: p.abs_error })), { title: "MAE (by prediction time)", format: fmtScore })
        : lineChart(pts.map((p) => ({ t: p.t, value: p.labelled_rows ? p.correct_rows / p.labelled_rows : null })), { title: "Accuracy (by prediction time)", format: fmtPct }),
    ),
  );
  const labels = metrics.labels;
  out.push(h("p", { class: "muted" }, `Labels for this model: ${labels.joined} joined, ${labels.pending} pending, ${labels.ambiguous} ambiguous, ${labels.invalid} invalid.`));
  if (anomalies !== null) {
    const mine = anomalies.filter((a) => a[ANOMALY.model] === name);
    out.push(h("h2", {}, "Anomalies"), mine.length ? anomalyTable(mine) : h("p", { class: "muted" }, "None in this range."));
  }
  out.push(...(await drift));
  return out;
}

// ---- predictions ------------------------------------------------------------------------

export function filterForm(route, fields) {
  const form = h("form", {
    class: "filters",
    onsubmit: (event) => {
      event.preventDefault();
      const params = {};
      for (const [key, value] of new FormData(form)) params[key] = value;
      location.hash = link(route.page, route.args, params);
    },
  });
  for (const field of fields) {
    const id = `f-${field.name}`;
    const value = route.params.get(field.name) ?? "";
    const control = field.options
      ? h("select", { id, name: field.name }, field.options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)))
      : h("input", { id, name: field.name, value, type: "text" });
    form.append(h("label", { for: id }, field.label, control));
  }
  form.append(h("button", { type: "submit" }, "Apply"));
  return form;
}

async function predictionsPage(route) {
  const range = window_(route);
  const p = route.params;
  const labelled = p.get("labelled") || undefined;
  const [models, page] = await Promise.all([
    api(ENDPOINTS.models, { params: { since: range.since, until: range.until } }),
    api(ENDPOINTS.predictions, {
      params: {
        model: p.get("model"), version: p.get("version"), labelled, error: p.get("error") || undefined,
        since: range.since, until: range.until, limit: 50, cursor: p.get("cursor"),
      },
    }),
  ]);
  const names = [...new Set(models.map((m) => m.name))];
  const out = [
    h("h1", {}, "Predictions"),
    filterForm(route, [
      { name: "model", label: "Model", options: [["", "Any"], ...names.map((n) => [n, n])] },
      { name: "version", label: "Version" },
      { name: "labelled", label: "Labels", options: [["", "Any"], ["true", "Labelled"], ["false", "Unlabelled"]] },
      { name: "error", label: "Status", options: [["", "Any"], ["true", "Errors"], ["false", "OK"]] },
    ]),
  ];
  if (!page.items.length) {
    out.push(emptyState("predictions"));
    return out;
  }
  out.push(
    table(
      ["Time", "Model", "Version", "Status", { label: "Latency", num: true }, { label: "Rows", num: true }, "Label", "Detail"],
      page.items.map((x) =>
        h("tr", { "data-span": x.span_id },
          td(fmtTime(x.time)),
          td(x.model_name),
          td(x.model_version ?? "—"),
          td(x.status === "error" ? h("span", { class: "error-text" }, `error: ${x.error_message ?? ""}`) : "ok"),
          num(fmtMs(x.latency_ms)),
          num(fmtInt(x.output_rows)),
          td(x.labelled_rows ? `${x.labelled_rows} labelled` : "none"),
          td(h("a", { href: link("prediction", [x.trace_id, x.span_id]) }, "Open")),
        ),
      ),
      { "data-testid": "predictions-table" },
    ),
  );
  const pager = h("div", { class: "pager" });
  if (p.get("cursor")) pager.append(h("a", { href: link("predictions", [], { ...Object.fromEntries(p), cursor: "" }) }, "Newest"));
  if (page.next_cursor) pager.append(h("a", { href: link("predictions", [], { ...Object.fromEntries(p), cursor: page.next_cursor }) }, "Older"));
  out.push(pager);
  return out;
}

async function predictionDetail(route) {
  const [traceId, spanId] = route.args;
  const trace = await api(ENDPOINTS.trace(traceId));
  const x = trace.predictions.find((p) => p.span_id === spanId) || trace.predictions[0];
  if (!x) return message(`Trace ${traceId} has no prediction.`, "error");
  return [
    h("h1", {}, `Prediction of ${x.model_name}`),
    h("p", {}, `${fmtTime(x.time)} · version ${x.model_version ?? "—"} · ${fmtMs(x.latency_ms)} · `,
      h("a", { href: link("trace", [traceId]) }, "Trace"), " · ",
      h("a", { href: link("model", [x.model_name]) }, "Model page")),
    x.status === "error" ? message(`The call raised: ${x.error_message}`, "error") : null,
    h("h2", {}, "Features (sample)"), json(x.features),
    h("h2", {}, "Output"), json(x.prediction),
    h("h2", {}, "Label"),
    x.labelled_rows ? json(x.label !== null ? x.label : x.labels) : h("p", { class: "muted" }, "No label yet: send one with client.log_label(trace_id, value)."),
  ];
}

// ---- trace ------------------------------------------------------------------------------

async function tracePage(route) {
  const traceId = route.args[0];
  const trace = await api(ENDPOINTS.trace(traceId));
  const spans = trace.spans;
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const llm = new Map(trace.llm_calls.map((c) => [c.span_id, c]));
  const depth = (s) => {
    let d = 0;
    let cur = s;
    while (cur.parent_span_id && byId.has(cur.parent_span_id) && d < 50) {
      cur = byId.get(cur.parent_span_id);
      d += 1;
    }
    return d;
  };
  // depth-first order: children right under their parent
  const children = new Map();
  for (const s of spans) {
    const key = s.parent_span_id && byId.has(s.parent_span_id) ? s.parent_span_id : null;
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(s);
  }
  const ordered = [];
  const walk = (key) => (children.get(key) || []).forEach((s) => { ordered.push(s); walk(s.span_id); });
  walk(null);
  const t0 = Math.min(...spans.map((s) => s.start_time_unix_nano));
  const t1 = Math.max(...spans.map((s) => s.start_time_unix_nano + s.duration_ms * 1e6));
  const total = Math.max(1, t1 - t0);
  const totalCost = trace.llm_calls.reduce((a, c) => a + (c.cost_usd || 0), 0);
  return [
    h("h1", {}, "Trace"),
    h("p", { class: "muted" }, h("code", {}, traceId), ` · ${spans.length} spans · ${fmtMs(total / 1e6)}`, totalCost ? ` · ${fmtUsd(totalCost)}` : ""),
    table(
      ["Span", "Kind", "Service", { label: "Duration", num: true }, "Tokens / cost", "Status", "Timeline"],
      ordered.map((s) => {
        const call = llm.get(s.span_id);
        const left = ((s.start_time_unix_nano - t0) / total) * 100;
        const width = Math.max(0.5, ((s.duration_ms * 1e6) / total) * 100);
        const isPrediction = trace.predictions.some((p) => p.span_id === s.span_id);
        return h("tr", { "data-span": s.span_id },
          td(h("span", { style: undefined }, "\u00a0\u00a0".repeat(depth(s))), isPrediction ? h("a", { href: link("prediction", [traceId, s.span_id]) }, s.name) : s.name),
          td(s.kind ?? "—"),
          td(s.service_name ?? "—"),
          num(fmtMs(s.duration_ms)),
          td(call ? `${fmtInt(call.input_tokens)} in / ${fmtInt(call.output_tokens)} out · ${fmtUsd(call.cost_usd)}` : ""),
          td(s.status === "error" ? h("span", { class: "error-text" }, `error ${s.status_message ?? ""}`) : s.status),
          h("td", { class: "bar" }, barNode(left, width, s.status === "error", `${s.name}: starts at ${fmtMs((s.start_time_unix_nano - t0) / 1e6)}, lasts ${fmtMs(s.duration_ms)}`)),
        );
      }),
      { "data-testid": "trace-table", class: "waterfall" },
    ),
  ];
}

function barNode(left, width, error, label) {
  const track = h("div", { class: "bar-track", role: "img", "aria-label": label });
  const fill = h("div", { class: error ? "bar-fill error" : "bar-fill" });
  // style via CSSOM: the page's CSP forbids inline style attributes
  fill.style.left = `${left.toFixed(2)}%`;
  fill.style.width = `${Math.min(width, 100 - left).toFixed(2)}%`;
  track.append(fill);
  return track;
}

// ---- LLM calls --------------------------------------------------------------------------

async function llmPage(route) {
  const range = window_(route);
  const p = route.params;
  const flag = (name) => (p.get(name) ? p.get(name) : undefined);
  const groupBy = p.get("group_by") || "user";
  const [data, series, page, totals, anomalies] = await Promise.all([
    api(ENDPOINTS.overview, { params: { since: range.since, until: range.until, buckets: BUCKETS, only: "llm" } }),
    api(ENDPOINTS.series, { params: { source: "llm", model: p.get("model"), since: range.since, until: range.until, buckets: 60 } }),
    api(ENDPOINTS.llmCalls, {
      params: {
        model: p.get("model"), pii: flag("pii"), injection: flag("injection"), error: flag("error"), risk: flag("risk"),
        user_id: flag("user_id"), session_id: flag("session_id"), service: flag("service"),
        since: range.since, until: range.until, limit: 50, cursor: p.get("cursor"),
      },
    }),
    optional(ENDPOINTS.llmTotals, { params: { group_by: groupBy, since: range.since, until: range.until, limit: 20 } }),
    loadAnomalies({ since: range.since, limit: 500 }),
  ]);
  const out = [h("h1", {}, "LLM calls")];
  if (!data.llm.length) {
    out.push(h("div", { class: "message" }, h("p", {}, "No LLM calls in this range. Instrument your client:"), h("pre", {}, "import aither\naither.init()\naither.instrument_openai()  # every OpenAI call is now on this page")));
    return out;
  }
  out.push(llmSummaryTable(data.llm, anomalies));
  const pts = series.points;
  out.push(
    h("div", { class: "cards" },
      lineChart(pts.map((x) => ({ t: x.t, value: x.cost_usd })), { title: "Cost", format: fmtUsd }),
      lineChart(pts.map((x) => ({ t: x.t, value: (x.input_tokens ?? 0) + (x.output_tokens ?? 0) })), { title: "Tokens", format: fmtInt }),
      lineChart(pts.map((x) => ({ t: x.t, value: x.latency_ms })), { title: "Mean latency", format: fmtMs }),
    ),
  );
  if (totals !== null) out.push(h("h2", {}, `Totals by ${groupBy}`), totalsTable(route, totals));
  const yesNo = [["", "Any"], ["true", "Yes"], ["false", "No"]];
  out.push(
    h("h2", {}, "Calls"),
    filterForm(route, [
      { name: "model", label: "Model", options: [["", "Any"], ...data.llm.map((m) => [m.model, m.model])] },
      { name: "pii", label: "PII found", options: yesNo },
      { name: "injection", label: "Injection", options: yesNo },
      { name: "error", label: "Failed", options: yesNo },
      { name: "risk", label: "Risk (and above)", options: [["", "Any"], ...RISK_LEVELS.map((r) => [r, r])] },
      { name: "user_id", label: "User" },
      { name: "session_id", label: "Session" },
      { name: "service", label: "Service" },
    ]),
  );
  if (!page.items.length) out.push(h("p", { class: "muted" }, "No calls match these filters."));
  else
    out.push(
      table(
        ["Time", "Model", "Operation", "Service", "User / session", { label: "Latency", num: true }, { label: "Tokens in/out", num: true }, { label: "Cost", num: true }, "Status", "Risk", "Flags", "Trace"],
        page.items.map((c) =>
          h("tr", { "data-span": c.span_id },
            td(fmtTime(c.time)),
            td(c.response_model ?? c.request_model ?? "—"),
            td(c.operation ?? c.name),
            td(c.service ?? "—"),
            td([c.user_id, c.session_id].filter(Boolean).join(" / ") || "—"),
            num(fmtMs(c.latency_ms)),
            num(`${fmtInt(c.input_tokens)} / ${fmtInt(c.output_tokens)}`),
            num(fmtUsd(c.cost_usd)),
            td(c.status === "error" ? h("span", { class: "error-text" }, c.error_type ?? "error") : "ok"),
            td(c.risk_level ? h("span", { class: ["high", "critical"].includes(c.risk_level) ? "flag bad" : "flag warn", "data-field": "risk" }, c.risk_level) : "—"),
            td(c.pii_detected ? h("span", { class: "flag bad" }, "PII") : null,
              c.injection_detected ? h("span", { class: "flag bad" }, `injection ${fmtScore(c.injection_score)}`) : null),
            td(h("a", { href: link("trace", [c.trace_id]) }, "Trace")),
          ),
        ),
        { "data-testid": "llm-calls-table" },
      ),
    );
  if (page.next_cursor) out.push(h("div", { class: "pager" }, h("a", { href: link("llm", [], { ...Object.fromEntries(p), cursor: page.next_cursor }) }, "Older")));
  return out;
}

// ---- settings ---------------------------------------------------------------------------

async function settingsPage() {
  const out = [h("h1", {}, "Settings")];
  if (!can("admin")) {
    out.push(message("This key has the read scope: settings need a key with the admin scope."));
    return out;
  }
  const [keys, rules, channels, deliveries, latest] = await Promise.all([
    api(ENDPOINTS.apiKeys),
    optional(ENDPOINTS.rules),
    optional(ENDPOINTS.channels),
    optional(ENDPOINTS.deliveries, { params: { limit: 20 } }),
    api(ENDPOINTS.latest),
  ]);
  out.push(h("h2", {}, "API keys"), keysSection(keys));
  out.push(h("h2", {}, "Rules and thresholds"));
  out.push(rules === null ? message("Rules are not available on this server.") : rulesSection(rules));
  out.push(h("h2", {}, "Alert channels"));
  out.push(channels === null ? message("Alert channels are not available on this server.") : channelsSection(items(channels)));
  out.push(h("h2", {}, "Alert deliveries"));
  out.push(deliveries === null ? message("Alert deliveries are not available on this server.") : deliveriesTable(deliveries));
  out.push(h("h2", {}, "Retention"), retentionSection(latest));
  return out;
}

function keysSection(keys) {
  const status = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "key-name", name: "name", required: true });
  const scopes = ["read", "write", "admin"].map((s) => h("label", {}, h("input", { type: "checkbox", name: "scope", value: s, checked: s !== "admin" }), ` ${s}`));
  const form = h("form", {
    class: "filters",
    onsubmit: async (event) => {
      event.preventDefault();
      const wanted = scopes.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      try {
        const created = await api(ENDPOINTS.apiKeys, { method: "POST", body: { name: name.value, scopes: wanted } });
        status.replaceChildren(
          h("div", { class: "message", role: "status", "data-testid": "new-key" },
            h("p", {}, `Key "${created.name}" created. Copy it now: it is shown this once.`),
            h("p", { class: "secret" }, h("code", {}, created.secret))),
        );
        name.value = "";
        keysTable.replaceWith((keysTable = keysTableFor(await api(ENDPOINTS.apiKeys), status)));
      } catch (error) {
        status.replaceChildren(message(error.message, "error"));
      }
    },
  },
  h("label", { for: "key-name" }, "New key's name", name),
  h("fieldset", {}, h("legend", {}, "Scopes"), scopes),
  h("button", { type: "submit" }, "Create key"));
  let keysTable = keysTableFor(keys, status);
  return h("div", {}, keysTable, h("h3", {}, "Create a key"), form, status);
}

function keysTableFor(keys, status) {
  return table(
    ["Name", "Key", "Scopes", "Created", "Last used", "State", ""],
    keys.map((k) =>
      h("tr", { "data-key": k.id },
        td(k.name),
        td(h("code", {}, `…${k.tail}`)),
        td(k.scopes.join(", ")),
        td(fmtTime(k.created_at)),
        td(fmtTime(k.last_used_at)),
        td(k.revoked_at ? "revoked" : "active"),
        td(k.revoked_at ? null : h("button", {
          type: "button",
          class: "danger",
          onclick: async () => {
            if (!window.confirm(`Revoke key "${k.name}"? Programs and sessions using it stop at once.`)) return;
            try {
              await api(ENDPOINTS.apiKey(k.id), { method: "DELETE" });
              await render({ quiet: true });
            } catch (error) {
              status.replaceChildren(message(error.message, "error"));
            }
          },
        }, "Revoke")),
      ),
    ),
    { "data-testid": "keys-table" },
  );
}

export const PAGES = {
  overview,
  model,
  predictions: predictionsPage,
  prediction: predictionDetail,
  trace: tracePage,
  llm: llmPage,
  anomalies: anomaliesPage,
  settings: settingsPage,
};
