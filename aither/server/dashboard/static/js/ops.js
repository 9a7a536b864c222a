// The operations pages and sections: the anomalies feed, Settings' rules, alert channels,
// deliveries and retention, and the model page's drift. Every write carries the CSRF token
// (api.js); a server without one of these endpoints (404) gets a "not available" message.

import { ANOMALY, ANOMALY_STATUSES, ENDPOINTS, RULE_KNOBS, SEVERITIES, api, items, optional } from "./api.js";
import { link, render, window_ } from "./app.js";
import { filterForm } from "./pages.js";
import { fmtInt, fmtScore, fmtTime, h, message, num, table, td } from "./ui.js";

// ---- anomalies (the feed, and the overview's and model page's counts) -------------------

export async function loadAnomalies(params) {
  const data = await optional(ENDPOINTS.anomalies, { params });
  return data === null ? null : items(data);
}

export function openCount(anomalies, model) {
  if (anomalies === null) return "—";
  return anomalies.filter((a) => a[ANOMALY.status] !== "resolved" && a[ANOMALY.model] === model).length;
}

function writeButton(label, url, { cls, method = "POST", body, done } = {}) {
  return h("button", {
    type: "button",
    class: cls,
    onclick: async (event) => {
      event.target.disabled = true;
      try {
        const result = await api(url, { method, body });
        if (done) done(result, event.target);
        else await render({ quiet: true });
      } catch (error) {
        event.target.replaceWith(h("span", { class: "error-text", role: "alert" }, error.message));
      }
    },
  }, label);
}

// the evidence: the call that triggered it, else the model's page (prediction targets)
function evidenceLinks(a) {
  const trace = a[ANOMALY.traceId] || (a[ANOMALY.evidence] || {}).trace_id;
  const model = a[ANOMALY.kind] === "prediction" ? a[ANOMALY.model] : null;
  return [
    trace ? h("a", { href: link("trace", [trace]) }, "Trace") : null,
    trace && model ? " · " : null,
    model ? h("a", { href: link("model", [model]) }, "Model") : null,
    !trace && !model && a[ANOMALY.kind] === "llm" ? h("a", { href: link("llm", [], a[ANOMALY.model] ? { model: a[ANOMALY.model] } : {}) }, "LLM calls") : null,
  ];
}

export function anomalyTable(list) {
  return table(
    ["Severity", "Title", "Type", "Target", { label: "Count", num: true }, "Last seen", "Status", "Evidence", "Actions"],
    list.map((a) => {
      const status = a[ANOMALY.status];
      const target = [a[ANOMALY.service], a[ANOMALY.model], a[ANOMALY.version], a[ANOMALY.environment]].filter(Boolean).join(" / ");
      return h("tr", { "data-anomaly": a[ANOMALY.id], "data-rule": a[ANOMALY.rule], "data-status": status },
        td(h("span", { class: ["critical", "high"].includes(a[ANOMALY.severity]) ? "flag bad" : "flag warn" }, a[ANOMALY.severity])),
        td(h("strong", {}, a[ANOMALY.title] ?? a[ANOMALY.rule]), h("div", { class: "muted" }, a[ANOMALY.message] ?? ""), a[ANOMALY.action] ? h("div", {}, `→ ${a[ANOMALY.action]}`) : null),
        td(a[ANOMALY.type] ?? "—", h("div", { class: "muted" }, a[ANOMALY.rule])),
        td(target || "—"),
        num(fmtInt(a[ANOMALY.count])),
        td(fmtTime(a[ANOMALY.lastSeen])),
        td(status),
        td(...evidenceLinks(a)),
        td(status === "open" ? writeButton("Acknowledge", ENDPOINTS.acknowledge(a[ANOMALY.id]), { cls: "secondary" }) : null,
          status !== "resolved" ? writeButton("Resolve", ENDPOINTS.resolve(a[ANOMALY.id])) : null),
      );
    }),
    { "data-testid": "anomalies-table" },
  );
}

export async function anomaliesPage(route) {
  const range = window_(route);
  const p = route.params;
  // severity, status and rule filter on the server; type and target here (the API has no such filter)
  const list = await loadAnomalies({ since: range.since, severity: p.get("severity"), status: p.get("status"), rule: p.get("rule"), limit: 500 });
  const out = [h("h1", {}, "Anomalies")];
  if (list === null) {
    out.push(message("Anomaly detection is not available on this server (its /api/v1/anomalies answers 404)."));
    return out;
  }
  const types = [...new Set(list.map((a) => a[ANOMALY.type]))].sort();
  out.push(
    filterForm(route, [
      { name: "severity", label: "Severity (and above)", options: [["", "Any"], ...SEVERITIES.map((s) => [s, s])] },
      { name: "type", label: "Type", options: [["", "Any"], ...types.map((t) => [t, t])] },
      { name: "status", label: "Status", options: [["", "Any"], ...ANOMALY_STATUSES.map((s) => [s, s])] },
      { name: "target", label: "Target (model or service)" },
    ]),
  );
  const type = p.get("type");
  const target = p.get("target");
  const shown = list.filter((a) => (!type || a[ANOMALY.type] === type) && (!target || a[ANOMALY.model] === target || a[ANOMALY.service] === target));
  out.push(shown.length ? anomalyTable(shown) : h("p", { class: "muted" }, "No anomalies match: all quiet."));
  return out;
}

// ---- settings: rules --------------------------------------------------------------------

export function rulesSection(rules) {
  const status = h("div", { "aria-live": "polite" });
  const put = async (body) => {
    try {
      await api(ENDPOINTS.rules, { method: "PUT", body });
      await render({ quiet: true });
    } catch (error) {
      status.replaceChildren(message(error.message, "error"));
    }
  };
  const knobs = h("form", {
    class: "filters",
    "data-testid": "knobs-form",
    onsubmit: (event) => {
      event.preventDefault();
      const body = {};
      for (const [key, value] of new FormData(knobs)) if (value !== "") body[key] = Number(value);
      put(body);
    },
  },
  RULE_KNOBS.map((name) => h("label", { for: `k-${name}` }, name, h("input", { id: `k-${name}`, name, type: "number", step: "any", min: "0", value: rules[name] ?? "" }))),
  h("button", { type: "submit" }, "Save thresholds"));
  const rows = rules.rules.map((r) => {
    const threshold = h("input", { type: "number", step: "any", min: "0", value: r.threshold, "aria-label": `${r.name} threshold`, name: "threshold" });
    const windowS = h("input", { type: "number", step: "1", min: "1", value: r.window_seconds, "aria-label": `${r.name} window in seconds`, name: "window" });
    const enabled = h("input", { type: "checkbox", checked: r.enabled, "aria-label": `${r.name} enabled`, name: "enabled" });
    const save = h("button", {
      type: "button",
      class: "secondary",
      onclick: () => put({ rules: { [r.name]: { threshold: Number(threshold.value), window: `${Number(windowS.value)}s`, enabled: enabled.checked } } }),
    }, "Save");
    return h("tr", { "data-rule": r.name },
      td(h("strong", {}, r.name), h("div", { class: "muted" }, r.description)),
      td(r.anomaly_type), td(r.severity), td(enabled), td(threshold, ` ${r.unit ?? ""}`), td(windowS), td(save));
  });
  return h("div", {},
    h("p", { class: "muted" }, `Quiet period: ${rules.quiet_period_seconds} s. Changes apply until the server restarts (the rules file is read at start).`),
    knobs,
    table(["Rule", "Type", "Severity", "Enabled", "Threshold", "Window (s)", ""], rows, { "data-testid": "rules-table" }),
    status);
}

// ---- settings: alert channels and deliveries --------------------------------------------

export function channelsSection(list) {
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", {
    class: "filters",
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {};
      for (const [key, value] of new FormData(form)) if (value !== "") body[key] = value;
      try {
        await api(ENDPOINTS.channels, { method: "POST", body });
        await render({ quiet: true });
      } catch (error) {
        status.replaceChildren(message(error.message, "error"));
      }
    },
  },
  h("label", { for: "ch-name" }, "Name", h("input", { id: "ch-name", name: "name", required: true })),
  h("label", { for: "ch-type" }, "Type", h("select", { id: "ch-type", name: "type" }, ["webhook", "slack"].map((t) => h("option", { value: t }, t)))),
  h("label", { for: "ch-url" }, "URL", h("input", { id: "ch-url", name: "url", type: "url", required: true })),
  h("label", { for: "ch-secret" }, "Signing secret (webhook)", h("input", { id: "ch-secret", name: "secret", type: "password", autocomplete: "off" })),
  h("label", { for: "ch-sev" }, "Minimum severity", h("select", { id: "ch-sev", name: "min_severity" }, SEVERITIES.map((s) => h("option", { value: s, selected: s === "high" }, s)))),
  h("button", { type: "submit" }, "Add channel"));
  const rows = list.map((c) => {
    const api_ = c.source === "api";
    return h("tr", { "data-channel": c.name },
      td(c.name), td(c.type), td(c.source), td(c.enabled ? "yes" : "no"), td(c.min_severity),
      // the API masks secrets; shown as it returns them
      td(Object.entries(c.settings).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ")),
      td(writeButton("Send test", ENDPOINTS.channelTest(c.id), { cls: "secondary", done: (d, button) => button.replaceWith(h("span", { role: "status" }, `test ${d.status}`)) }),
        api_ ? writeButton("Delete", ENDPOINTS.channel(c.id), { method: "DELETE" }) : null));
  });
  return h("div", {},
    list.length ? table(["Name", "Type", "Source", "Enabled", "Min severity", "Settings", ""], rows, { "data-testid": "channels-table" }) : h("p", { class: "muted" }, "No channels yet."),
    form, status);
}

export function deliveriesTable(page) {
  const list = items(page);
  if (!list.length) return h("p", { class: "muted" }, "No deliveries yet.");
  return table(["Time", "Channel", "Event", "Severity", "Title", "Status", { label: "Attempts", num: true }, "Error"],
    list.map((d) => h("tr", { "data-delivery": d.id },
      td(fmtTime(d.created_at)), td(`${d.channel_name} (${d.channel_type})`), td(d.event), td(d.severity), td(d.title),
      td(d.status === "failed" ? h("span", { class: "error-text" }, d.status) : d.status), num(fmtInt(d.attempts)), td(d.last_error ?? ""))),
    { "data-testid": "deliveries-table" });
}

// ---- settings: retention ----------------------------------------------------------------

export function retentionSection(latest) {
  const seconds = latest ? latest.retention_s : null;
  const said = seconds === null || seconds === undefined
    ? "This server keeps all data (start it with --retention 30d to delete older telemetry every hour)."
    : `This server deletes telemetry older than ${Math.round(seconds / 86400 * 10) / 10} days (--retention).`;
  const status = h("div", { "aria-live": "polite" });
  const older = h("input", { id: "prune-older", name: "older_than", value: "30d", required: true, pattern: "[0-9]+[smhdw]" });
  const form = h("form", {
    class: "filters",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const result = await api(ENDPOINTS.prune, { method: "POST", body: { older_than: older.value } });
        const total = Object.values(result.deleted).reduce((x, y) => x + y, 0);
        status.replaceChildren(message(`Deleted ${fmtInt(total)} rows older than ${fmtTime(result.cutoff)}.`));
      } catch (error) {
        status.replaceChildren(message(error.message, "error"));
      }
    },
  }, h("label", { for: "prune-older" }, "Delete telemetry older than", older), h("button", { type: "submit" }, "Prune now"));
  return h("div", {}, h("p", { "data-testid": "retention" }, said), form, status);
}

// ---- the model page's drift -------------------------------------------------------------

export async function driftSection(name, version) {
  const drift = await optional(ENDPOINTS.drift(name), { params: { version, windows: 5 } });
  const out = [h("h2", {}, "Feature drift")];
  if (drift === null) return [...out, h("p", { class: "muted" }, "Drift is not available on this server.")];
  if (!drift.windows.length)
    return [...out, h("p", { class: "muted" }, drift.references.length ? "No drift window scored yet." : "No reference yet: drift is scored once the model has a reference (docs/drift.md).")];
  for (const w of drift.windows) {
    const features = [...w.features].sort((a, b) => (b.score ?? -1) - (a.score ?? -1));
    out.push(
      h("h3", {}, `${fmtTime(w.start)} – ${fmtTime(w.end)} · version ${w.version || "all"}`,
        w.drifted.length ? h("span", { class: "flag bad" }, ` ${w.drifted.length} drifted`) : h("span", { class: "flag" }, " no drift")),
      table(["Feature", "Side", "Kind", { label: "Score", num: true }, { label: "Rows", num: true }, "Drifted"],
        features.map((f) => h("tr", { "data-feature": f.feature, class: f.drifted ? "drifted" : "" },
          td(f.drifted ? h("strong", {}, f.feature) : f.feature), td(f.side), td(f.kind), num(fmtScore(f.score)), num(fmtInt(f.rows)),
          td(f.drifted ? h("span", { class: "flag bad" }, "drifted") : "—"))),
        { "data-testid": "drift-table" }),
    );
  }
  return out;
}
