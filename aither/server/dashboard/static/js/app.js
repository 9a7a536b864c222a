// The dashboard's shell: sign-in, the hash router (page, filters and range live in the URL,
// so a link shows someone else the same view), and live reloads while the tab is visible.

import { ApiError, ENDPOINTS, api, setCsrf } from "./api.js";
import { PAGES } from "./pages.js";
import { h, message } from "./ui.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const controls = document.getElementById("controls");
const rangeSelect = document.getElementById("range");
const live = document.getElementById("live");
const POLL_MS = 5000;
const RANGES = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

export const state = { session: null, latest: null, route: null, rendering: false };

export function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(search || "");
  return { page: parts[0] || "overview", args: parts.slice(1), params };
}

// The URL of a page with params; the current range is kept unless params say otherwise.
export function link(page, args = [], params = {}) {
  const merged = new URLSearchParams();
  const range = state.route?.params.get("range");
  if (range) merged.set("range", range);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") merged.delete(key);
    else merged.set(key, value);
  }
  const path = [page, ...args.map(encodeURIComponent)].join("/");
  const search = merged.toString();
  return `#/${path}${search ? `?${search}` : ""}`;
}

export function window_(route) {
  const key = route.params.get("range") || "24h";
  const seconds = RANGES[key] || RANGES["24h"];
  const until = new Date();
  const since = new Date(until.getTime() - seconds * 1000);
  return { since: since.toISOString(), until: until.toISOString(), key };
}

export function can(scope) {
  return Boolean(state.session && state.session.scopes.includes(scope));
}

function showSignIn(note) {
  nav.hidden = true;
  controls.hidden = true;
  const input = h("input", { id: "api-key", type: "password", name: "api_key", autocomplete: "off", required: true, placeholder: "aith_…" });
  const status = h("div", { "aria-live": "polite" }, note ? message(note, "error") : null);
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: async (event) => {
        event.preventDefault();
        status.replaceChildren(message("Signing in…"));
        try {
          const session = await api(ENDPOINTS.session, { method: "POST", body: { api_key: input.value } });
          input.value = "";
          signedIn(session);
        } catch (error) {
          status.replaceChildren(message(`Sign-in failed: ${error.message}`, "error"));
        }
      },
    },
    h("h1", {}, "Sign in to aither"),
    h("p", { class: "muted" }, "Use an API key of this server (aither server prints one on first start; aither demo --serve prints the demo's)."),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("p", {}, h("button", { type: "submit" }, "Sign in")),
    status,
  );
  main.replaceChildren(form);
  input.focus();
}

function signedIn(session) {
  state.session = session;
  setCsrf(session.csrf_token);
  nav.hidden = false;
  controls.hidden = false;
  render();
}

export async function render({ quiet = false } = {}) {
  const route = parseRoute();
  state.route = route;
  rangeSelect.value = window_(route).key;
  for (const anchor of nav.querySelectorAll("a")) {
    const current = anchor.dataset.page === route.page || (route.page === "model" && anchor.dataset.page === "overview");
    if (current) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
  const page = PAGES[route.page];
  if (!page) {
    main.replaceChildren(message(`There is no page "${route.page}".`, "error"));
    return;
  }
  if (!quiet) {
    delete main.dataset.ready;
    main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  }
  // the newest data's time, taken before the page's own queries: data that lands after
  // it makes the next poll redraw the page, data that lands before is on the page already
  const baseline = api(ENDPOINTS.latest).then((latest) => latest.version, () => null);
  try {
    const content = await page(route);
    state.latest = (await baseline) ?? state.latest;
    if (route !== state.route) return; // the user moved on while this page loaded
    main.replaceChildren(...[content].flat().filter((node) => node !== null && node !== undefined && node !== false));
    main.dataset.ready = route.page;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      state.session = null;
      showSignIn(error.message);
      return;
    }
    main.replaceChildren(message(`Could not load this page: ${error.message}`, "error"));
    main.dataset.ready = route.page;
  }
}

// Live: ask for the newest data's time every few seconds, and redraw when it moved.
async function poll() {
  // a page still drawing (a long range on a big database) is not asked to start again
  if (!state.session || state.rendering || document.visibilityState !== "visible") return;
  try {
    const latest = await api(ENDPOINTS.latest);
    const changed = state.latest !== null && latest.version !== state.latest;
    if (state.latest === null) state.latest = latest.version;
    if (changed) {
      state.rendering = true;
      try {
        await render({ quiet: true });
      } finally {
        state.rendering = false;
      }
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignIn(error.message);
  }
}

document.addEventListener("visibilitychange", () => {
  live.classList.toggle("paused", document.visibilityState !== "visible");
  live.textContent = document.visibilityState === "visible" ? "live" : "paused";
  if (document.visibilityState === "visible") poll();
});

rangeSelect.addEventListener("change", () => {
  const route = parseRoute();
  const params = Object.fromEntries(route.params);
  params.range = rangeSelect.value;
  location.hash = link(route.page, route.args, params);
});

document.getElementById("signout").addEventListener("click", async () => {
  try {
    await api(ENDPOINTS.session, { method: "DELETE" });
  } catch {
    // signed out already; the sign-in form is what the user wants either way
  }
  state.session = null;
  setCsrf(null);
  showSignIn();
});

window.addEventListener("hashchange", () => {
  if (state.session) render().then(() => main.focus({ preventScroll: true }));
});

async function start() {
  try {
    signedIn(await api(ENDPOINTS.session));
  } catch (error) {
    showSignIn(error instanceof ApiError && error.status === 401 ? null : error.message);
  }
  setInterval(poll, POLL_MS);
}

start();
