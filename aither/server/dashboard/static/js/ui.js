// DOM helpers, formatting and hand-written SVG charts. Text goes in as text nodes, never HTML.

const SVG = "http://www.w3.org/2000/svg";

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  append(node, children);
  return node;
}

export function message(text, kind = "info") {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", class: x.num ? "num" : "" }, x.label ?? x)))),
      h("tbody", {}, rows),
    ),
  );
}

export function td(...children) {
  return h("td", {}, ...children);
}

export function num(value, attrs = {}) {
  return h("td", { ...attrs, class: "num" }, value);
}

export function fmtInt(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
}
export function fmtMs(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}
export function fmtPct(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}
export function fmtScore(value) {
  return value === null || value === undefined ? "—" : value.toFixed(3);
}
export function fmtUsd(value) {
  if (value === null || value === undefined) return "—";
  if (value > 0 && value < 0.01) return `$${value.toPrecision(2)}`; // a cheap call is not $0.0000
  return `$${value.toFixed(2)}`;
}
export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString("en-GB", { hour12: false });
}
function fmtShort(iso) {
  return new Date(iso).toLocaleString("en-GB", { hour12: false, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
export function json(value) {
  if (value === undefined) return h("pre", {}, "—");
  if (value && typeof value === "object" && "sample" in value && "_meta" in value) {
    // aither's sample envelope (docs/span-schema.md): the values, then what they were cut from
    return h("pre", {}, `sample: ${JSON.stringify(value.sample)}\n_meta:  ${JSON.stringify(value._meta)}`);
  }
  const line = JSON.stringify(value);
  // short values on one line; long ones indented, so nested samples stay readable
  return h("pre", {}, line.length <= 100 ? line : JSON.stringify(value, null, 2));
}

// A sparkline of numbers (null = gap drawn as 0).
export function sparkline(values, label) {
  const width = 120;
  const height = 28;
  const top = Math.max(1, ...values.map((v) => v || 0));
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - ((v || 0) / top) * (height - 4)).toFixed(1)}`);
  return svg(
    "svg",
    { class: "spark", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    svg("title", {}, label),
    svg("polyline", { points: points.join(" ") }),
  );
}

// A line chart of {t, value} points with its min/max and time labels.
export function lineChart(points, { title, format = (v) => String(v) }) {
  // a viewBox about the size the card shows, so the labels keep a readable size
  const width = 320;
  const height = 150;
  const pad = { l: 66, r: 6, t: 10, b: 20 };
  const values = points.map((p) => p.value).filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  const card = h("div", { class: "card" }, h("h3", {}, title));
  if (!values.length) {
    card.append(h("p", { class: "muted" }, "No data in this range."));
    return card;
  }
  const max = Math.max(...values);
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const x = (i) => pad.l + (points.length > 1 ? (i / (points.length - 1)) * (width - pad.l - pad.r) : 0);
  const y = (v) => pad.t + (1 - (v - min) / span) * (height - pad.t - pad.b);
  const segments = [];
  let current = [];
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined || Number.isNaN(p.value)) {
      if (current.length) segments.push(current);
      current = [];
    } else current.push(`${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
  });
  if (current.length) segments.push(current);
  const first = points[0].t;
  const last = points[points.length - 1].t;
  card.append(
    svg(
      "svg",
      { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: from ${format(min)} to ${format(max)}` },
      svg("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b }),
      svg("line", { class: "axis", x1: pad.l, x2: pad.l, y1: pad.t, y2: height - pad.b }),
      svg("text", { x: pad.l - 4, y: pad.t + 8, "text-anchor": "end" }, format(max)),
      svg("text", { x: pad.l - 4, y: height - pad.b, "text-anchor": "end" }, format(min)),
      svg("text", { x: pad.l, y: height - 5 }, fmtShort(first)),
      svg("text", { x: width - pad.r, y: height - 5, "text-anchor": "end" }, fmtShort(last)),
      segments.map((s) => (s.length === 1 ? svg("circle", { cx: s[0].split(",")[0], cy: s[0].split(",")[1], r: 2.5, fill: "#0b57d0" }) : svg("polyline", { class: "line", points: s.join(" ") }))),
    ),
  );
  return card;
}

export const SNIPPET = `import aither
model = aither.wrap(model, name="my_model", version="1.0")
model.predict(X)  # every call is now a prediction on this dashboard`;

export function emptyState(what) {
  return h(
    "div",
    { class: "message" },
    h("p", {}, `No ${what} in this range yet. Send some with the SDK:`),
    h("pre", {}, SNIPPET),
    h("p", { class: "muted" }, "Or run `aither demo --serve` to see a model's page in a minute."),
  );
}
