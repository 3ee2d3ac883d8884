"use strict";
(() => {
  const API = "/ui/api/";
  const POLL_MS = 1000;
  const root = document.documentElement;
  const LANG = root.lang || "en";
  const $ = (id) => document.getElementById(id);

  // ---- language: the server picks the catalogue from Accept-Language and
  // names it on <html data-catalogue>; the English text is the key, so a
  // missing entry shows English rather than nothing.
  let CAT = {};
  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(CAT, key) && CAT[key] ? CAT[key] : key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }
  // fixText is the catalogue's text of an error code's fix ("fix.CODE.problem",
  // "fix.CODE.action"), else the server's own (English) text.
  function fixText(code, part, server) {
    const k = "fix." + String(code || "").toUpperCase() + "." + part;
    return Object.prototype.hasOwnProperty.call(CAT, k) && CAT[k] ? CAT[k] : server;
  }
  // plural picks the form for n (both forms are catalogue keys).
  function plural(n, one, many, vars) {
    return t(n === 1 ? one : many, { n: fmt.n(n), ...vars });
  }
  function translateStatic() {
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      if (!el.dataset.i18nKey) el.dataset.i18nKey = el.textContent.trim();
      el.textContent = t(el.dataset.i18nKey);
    });
    document.querySelectorAll("[data-i18n-attr]").forEach((el) => {
      for (const a of el.dataset.i18nAttr.split(",")) el.setAttribute(a, t(el.getAttribute(a)));
    });
    document.title = t(document.title);
  }

  const STATES = [
    ["settling", "Settling"], ["queued", "Queued"], ["waiting_for_credits", "Waiting for credits"],
    ["in_flight", "In flight"], ["done", "Done"], ["failed", "Failed"], ["refused", "Refused"],
  ];
  const LABEL = Object.fromEntries(STATES.concat([["deleted", "Deleted"]]));
  const stateLabel = (s) => (LABEL[s] ? t(LABEL[s]) : s);

  // h builds an element; strings become text nodes (never HTML). Event
  // handlers live in el._on, so that morph can hand a kept node the new
  // render's handlers.
  function h(tag, attrs, ...kids) {
    const svg = ["svg", "rect", "line", "text", "g", "title", "path"].includes(tag);
    const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) {
        const type = k.slice(2);
        el._on = el._on || {};
        el._on[type] = v;
        el.addEventListener(type, (e) => el._on[type] && el._on[type](e));
      } else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }

  // ---- keyed updates: patch(parent, kids) makes parent's children look like
  // kids while keeping every node that stays (matched by data-key or id, else
  // by tag and place), so focus, selection and scroll survive a poll and a
  // screen reader hears nothing that did not change.
  function keyOf(n) { return n.nodeType === 1 ? n.getAttribute("data-key") || n.id || null : null; }
  function same(a, b) { return a.nodeType === b.nodeType && a.nodeName === b.nodeName && keyOf(a) === keyOf(b); }
  function morph(old, nu) {
    if (old.nodeType !== 1) {
      if (old.nodeValue !== nu.nodeValue) old.nodeValue = nu.nodeValue;
      return;
    }
    for (const a of [...old.attributes]) if (!nu.hasAttribute(a.name)) old.removeAttribute(a.name);
    for (const a of nu.attributes) if (old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
    if (nu._on) old._on = nu._on;
    morphChildren(old, [...nu.childNodes]);
  }
  function morphChildren(parent, kids) {
    const olds = [...parent.childNodes];
    const byKey = new Map();
    for (const o of olds) { const k = keyOf(o); if (k && !byKey.has(k)) byKey.set(k, o); }
    const used = new Set();
    kids.forEach((n, i) => {
      let o = null;
      const k = keyOf(n);
      if (k) o = byKey.get(k);
      else if (olds[i] && !keyOf(olds[i])) o = olds[i];
      if (o && (used.has(o) || !same(o, n))) o = null;
      if (o) { used.add(o); morph(o, n); } else o = n;
      if (parent.childNodes[i] !== o) parent.insertBefore(o, parent.childNodes[i] || null);
    });
    while (parent.childNodes.length > kids.length) parent.lastChild.remove();
  }
  function patch(parent, kids) {
    morphChildren(parent, [kids].flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false && k !== "")
      .map((k) => (k instanceof Node ? k : document.createTextNode(String(k)))));
  }

  class HTTPError extends Error {
    constructor(msg, status) { super(msg); this.status = status; }
  }
  async function getJSON(path) {
    let r;
    try {
      r = await fetch(API + path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (e) {
      throw new HTTPError(t("ppsync does not answer"), 0);
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new HTTPError(body.error || r.status + " " + r.statusText, r.status);
    return body;
  }
  async function postJSON(path, data) {
    const r = await fetch(API + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-PPSync-Request": "1" },
      body: JSON.stringify(data),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
    return body;
  }

  const numberFmt = new Intl.NumberFormat(LANG);
  const timeFmt = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" });
  const secondsFmt = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTimeFmt = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short" });
  const fullFmt = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "medium" });
  const fmt = {
    n: (x) => numberFmt.format(Number(x || 0)),
    when(tm) {
      if (!tm) return "—";
      const d = new Date(tm);
      if (isNaN(d) || d.getFullYear() < 2000) return "—";
      const s = (Date.now() - d.getTime()) / 1000;
      if (s < 60) return t("just now");
      if (s < 3600) return t("{n} min ago", { n: Math.floor(s / 60) });
      if (s < 86400 && d.getDate() === new Date().getDate()) return t("today {time}", { time: timeFmt.format(d) });
      return dateTimeFmt.format(d);
    },
    full(tm) { const d = new Date(tm); return isNaN(d) || d.getFullYear() < 2000 ? "" : fullFmt.format(d); },
    clock(d) { return secondsFmt.format(d); },
    secs(s) {
      const one = (x) => new Intl.NumberFormat(LANG, { maximumFractionDigits: 1, minimumFractionDigits: x < 10 ? 1 : 0 }).format(x);
      if (s < 60) return one(s) + " s";
      if (s < 3600) return new Intl.NumberFormat(LANG, { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(s / 60) + " min";
      return new Intl.NumberFormat(LANG, { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(s / 3600) + " h";
    },
    base(p) { return String(p).split(/[\\/]/).pop(); },
    credits(n) { return plural(n, "1 credit", "{n} credits"); },
  };

  function badge(state) {
    return h("span", { class: "badge s-" + state }, stateLabel(state));
  }

  // ---- state of the page
  const ui = {
    view: "overview", overview: null,
    q: { q: "", inbox: "", state: "", sort: "-when", offset: 0, limit: 50 },
    overviewAt: 0, filePath: "", busy: false, again: false, polls: 0,
    ledgers: {}, // inbox path → its ledger ({name, url}), from /ui/api/ledgers
    focusHeading: false, returnFocus: "", listHash: "#/files",
    seenRows: null, seenFile: null, seenTotals: null, started: "", lostAt: null,
  };

  // ---- routing
  function route(ev) {
    const hash = location.hash || "#/";
    const [path, qs] = hash.slice(1).split("?");
    const params = new URLSearchParams(qs || "");
    const before = ui.view;
    if (path === "/files") {
      ui.view = "files";
      for (const k of ["q", "inbox", "state", "sort"]) ui.q[k] = params.get(k) || (k === "sort" ? "-when" : "");
      ui.q.offset = Number(params.get("offset") || 0);
      if (document.activeElement !== $("f-q")) $("f-q").value = ui.q.q;
      $("f-inbox").value = ui.q.inbox; $("f-state").value = ui.q.state;
      $("f-sort").value = [...$("f-sort").options].some((o) => o.value === ui.q.sort) ? ui.q.sort : "-when";
      ui.listHash = hash;
      if (before !== "files") ui.seenRows = null;
    } else if (path === "/file") {
      const p = params.get("path") || "";
      if (p !== ui.filePath || before !== "file") { ui.seenFile = null; patch($("file"), []); }
      ui.view = "file"; ui.filePath = p;
    } else if (path === "/upload") {
      ui.view = "upload";
    } else ui.view = "overview";
    for (const v of ["overview", "files", "file", "upload"]) $("view-" + v).hidden = v !== ui.view;
    document.querySelectorAll("[data-nav]").forEach((a) => {
      const on = a.dataset.nav === ui.view || (ui.view === "file" && a.dataset.nav === "files");
      if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    // After a navigation (not the first load, not a search typed into the
    // list), the keyboard and screen reader start at the new view's heading.
    if (ev && before !== ui.view) {
      ui.focusHeading = true;
      focusHeading();
    }
    refresh();
  }
  function focusHeading() {
    if (!ui.focusHeading) return;
    const hd = $("view-" + ui.view).querySelector("h1");
    if (!hd) return; // a file's heading comes with its data
    ui.focusHeading = false;
    if (ui.returnFocus && ui.view === "files") return; // the list puts focus on the file's row
    hd.setAttribute("tabindex", "-1");
    hd.focus();
  }
  function filesHash(extra) {
    const q = { ...ui.q, ...extra };
    const p = new URLSearchParams();
    for (const k of ["q", "inbox", "state"]) if (q[k]) p.set(k, q[k]);
    if (q.sort && q.sort !== "-when") p.set("sort", q.sort);
    if (q.offset) p.set("offset", q.offset);
    return "#/files?" + p.toString();
  }

  // ---- what the live region says: only events, never "updated at".
  function announce(msgs) {
    if (!msgs.length) return;
    const a = $("announce");
    a.textContent = "";
    setTimeout(() => { a.textContent = msgs.join(". "); }, 50);
  }
  function doneText(name, state) {
    const key = { done: "{name} done", failed: "{name} failed", refused: "{name} refused" }[state];
    return t(key, { name });
  }
  const EVENT_STATES = ["done", "failed", "refused"];

  // ---- overview
  function totals(r) {
    const out = { done: 0, failed: 0, refused: 0 };
    for (const inb of r.inboxes) for (const k of EVENT_STATES) out[k] += (inb.files && inb.files[k]) || 0;
    return out;
  }
  function overviewEvents(r) {
    const now = totals(r), was = ui.seenTotals;
    ui.seenTotals = now;
    if (!was) return [];
    const msgs = [];
    if (now.done > was.done) msgs.push(plural(now.done - was.done, "1 done", "{n} done"));
    if (now.failed > was.failed) msgs.push(plural(now.failed - was.failed, "1 failed", "{n} failed"));
    if (now.refused > was.refused) msgs.push(plural(now.refused - was.refused, "1 refused", "{n} refused"));
    return msgs;
  }

  function renderOverview(ov) {
    const r = ov.report, a = ov.activity;
    const cards = [];
    const apiOK = !r.last_poll_error;
    cards.push(h("div", { class: "card stat", "data-key": "api" },
      h("h2", {}, t("PerfectParser API")),
      h("p", { class: "big live-num " + (apiOK ? "ok" : "bad") }, apiOK ? t("Healthy") : t("Trouble")),
      h("p", { class: "muted" }, apiOK ? (r.last_poll ? t("last poll {when}", { when: fmt.when(r.last_poll) }) : t("no poll yet")) : r.last_poll_error),
      h("p", { class: "muted live-num" }, t("{jobs} jobs in flight · {queued} queued", { jobs: fmt.n(r.jobs_in_flight), queued: fmt.n(r.queue_depth) }))));
    const credits = r.credits_available ?? (a && a.credits);
    let forecast = t("burn rate known after 30 minutes");
    if (a && a.burn_per_day != null) {
      forecast = t("{n} a day", { n: fmt.n(Math.round(a.burn_per_day)) });
      forecast += a.burn_per_day > 0 && credits != null ? " · " + t("runs out in about {days}", { days: daysText(credits / a.burn_per_day) }) : " · " + t("nothing spent lately");
    }
    cards.push(h("div", { class: "card stat", "data-key": "credits" },
      h("h2", {}, t("Credits left")),
      h("p", { class: "big live-num" + (r.waiting_for_credits ? " bad" : "") }, credits == null ? "—" : fmt.n(credits)),
      h("p", { class: "muted" }, r.waiting_for_credits ? t("Waiting for credits: files are held back") : forecast)));
    if (a) {
      const total = a.hours.reduce((s, x) => s + x.docs, 0);
      const pages = a.hours.reduce((s, x) => s + x.pages, 0);
      cards.push(h("div", { class: "card stat", "data-key": "day" },
        h("h2", {}, t("Last 24 hours")),
        h("p", { class: "big live-num" }, plural(total, "1 document", "{n} documents")),
        h("p", { class: "muted" }, plural(pages, "1 page", "{n} pages"))));
      cards.push(h("div", { class: "card stat", "data-key": "latency" },
        h("h2", {}, t("Drop to result")),
        h("p", { class: "big live-num" }, a.latency_samples ? fmt.secs(a.latency_p50_seconds) : "—"),
        h("p", { class: "muted" }, a.latency_samples ? t("median · 95% within {p95} ({n} results)", { p95: fmt.secs(a.latency_p95_seconds), n: fmt.n(a.latency_samples) }) : t("no results yet"))));
    }
    patch($("summary"), cards);
    $("chart").closest(".card").hidden = !a;
    if (a) patch($("chart"), chart(a.hours));

    patch($("inboxes"), r.inboxes.map((inb) => {
      const healthy = inb.healthy !== false;
      const counts = { settling: inb.settling, ...inb.files };
      if (r.waiting_for_credits) { counts.waiting_for_credits = (counts.waiting_for_credits || 0) + (counts.queued || 0); counts.queued = 0; }
      return h("article", { class: "card inbox", "data-inbox": inb.path, "data-key": "inbox:" + inb.path },
        h("header", {},
          h("h3", {}, fmt.base(inb.path)),
          h("span", { class: "badge " + (healthy ? "s-done" : "s-failed") }, healthy ? t("Healthy") : t("Unhealthy"))),
        h("p", { class: "muted path" }, inb.path),
        healthy ? null : h("p", { class: "error", role: "alert" }, inb.error || t("unreachable")),
        h("p", { class: "muted" }, t("Parser {id} · watch: {mode}", { id: inb.parser_id, mode: inb.watch || "auto" }) +
          (inb.last_scan ? " · " + t("last scan {when}", { when: fmt.when(inb.last_scan) }) : "")),
        ledgerLink(inb.path),
        (counts.failed || 0) + (counts.refused || 0) ? h("div", { class: "buttons" },
          h("button", { type: "button", class: "secondary", "data-key": "retry-all", onclick: () => retryAll(inb.path) },
            plural((counts.failed || 0) + (counts.refused || 0), "Retry the failed file", "Retry all {n} failed files"))) : null,
        h("ul", { class: "counts" }, STATES.map(([k, label]) => {
          const n = counts[k] || 0;
          const target = k === "settling" ? null : filesHash({ inbox: inb.path, state: k === "waiting_for_credits" ? "queued" : k, q: "", offset: 0, sort: "-when" });
          const inner = [h("span", { class: "n live-num", "data-count": k }, fmt.n(n)), h("span", { class: "l" }, t(label))];
          return h("li", { class: "c-" + k + (n ? "" : " zero"), "data-key": k }, target ? h("a", { href: target }, inner) : h("span", {}, inner));
        })));
    }));

    const gone = dismissed();
    const errs = r.inboxes.flatMap((i) => i.last_errors || []).filter((e) => !gone.has(e.path + "|" + e.at))
      .sort((x, y) => new Date(y.at) - new Date(x.at)).slice(0, 8);
    patch($("problems"), errs.length ? h("div", { class: "card", "data-key": "problems" },
      h("h2", {}, t("Needs attention")),
      h("ul", { class: "problems" }, errs.map((e) => h("li", { "data-key": e.path },
        badge(e.state), " ",
        h("a", { href: "#/file?path=" + encodeURIComponent(e.path) }, fmt.base(e.path)),
        h("span", { class: "muted" }, " · " + e.reason + " · " + fmt.when(e.at)), " ",
        h("button", { type: "button", class: "link", onclick: () => dismiss(e), "aria-label": t("Dismiss {name}", { name: fmt.base(e.path) }) }, t("Dismiss")))))) : null);
  }

  // A dismissed problem stays hidden in this browser until it happens
  // again (a new time).
  function dismissed() {
    try { return new Set(JSON.parse(localStorage.getItem("ppsync.dismissed") || "[]")); } catch (e) { return new Set(); }
  }
  function dismiss(e) {
    const gone = [...dismissed(), e.path + "|" + e.at].slice(-500);
    try { localStorage.setItem("ppsync.dismissed", JSON.stringify(gone)); } catch (err) { /* private mode: for this view only */ }
    renderOverview(ui.overview);
    const next = document.querySelector("#problems a") || $("h-overview");
    next.focus();
  }

  // retryAll retries every failed or refused file of an inbox, saying the
  // total cost first (act asks).
  async function retryAll(inbox) {
    const paths = [];
    try {
      for (const state of ["failed", "refused"]) {
        const page = await getJSON("files?" + new URLSearchParams({ inbox, state, limit: 500 }).toString());
        paths.push(...page.rows.map((r) => r.path));
      }
    } catch (e) {
      toast(t("Could not retry: {error}", { error: e.message }), true);
      return;
    }
    if (paths.length) act("retry", paths);
  }

  // ---- the last 90 days, when this ppsync serves /api/history (hidden
  // when it answers 404).
  const HISTORY_DAYS = 90;
  async function loadHistory() {
    if (ui.historyAt && Date.now() - ui.historyAt < 60000) return;
    ui.historyAt = Date.now();
    let r;
    try { r = await fetch("/api/history?days=" + HISTORY_DAYS, { credentials: "same-origin", headers: { Accept: "application/json" } }); } catch (e) { return; }
    if (!r.ok) { $("history-card").hidden = true; return; }
    const body = await r.json().catch(() => null);
    if (!body || !Array.isArray(body.days)) { $("history-card").hidden = true; return; }
    $("history-card").hidden = false;
    renderHistory(body.days);
  }
  function renderHistory(days) {
    const W = Math.max(280, Math.round($("history").clientWidth || 1000)), H = 140, B = 4;
    const max = Math.max(1, ...days.map((d) => d.documents));
    // A bar per day of the HISTORY_DAYS asked for, placed by its date (the
    // answer leaves out days without events), so that a few days of history
    // are a few thin bars at the right, not one as wide as the chart.
    const DAY = 86400000, dayOf = (d) => Date.parse(d.date + "T00:00:00Z");
    const last = Math.max(Math.floor(Date.now() / DAY) * DAY, ...days.map(dayOf));
    const step = W / HISTORY_DAYS;
    const svg = h("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
      "aria-label": t("Documents per day over the last {n} days, {total} in all", { n: fmt.n(HISTORY_DAYS), total: fmt.n(days.reduce((s, d) => s + d.documents, 0)) }) });
    days.forEach((d) => {
      const i = HISTORY_DAYS - 1 - Math.round((last - dayOf(d)) / DAY);
      if (i < 0) return;
      const bh = (H - B) * d.documents / max;
      svg.append(h("rect", { x: i * step, y: H - bh, width: Math.max(1, step - 1), height: bh, class: "bar" + (d.failures ? " has-failures" : "") },
        h("title", {}, d.date + ": " + plural(d.documents, "1 document", "{n} documents"))));
    });
    const dateFmt = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeZone: "UTC" });
    const table = h("details", {}, h("summary", {}, t("As a table")), h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, [t("Date"), t("Documents"), t("Pages"), t("Credits"), t("Failures")].map((c, i) => h("th", { scope: "col", class: i ? "num" : "" }, c)))),
      h("tbody", {}, days.slice().reverse().map((d) => h("tr", { "data-key": d.date },
        h("td", {}, dateFmt.format(new Date(d.date + "T00:00:00Z"))),
        h("td", { class: "num" }, fmt.n(d.documents)), h("td", { class: "num" }, fmt.n(d.pages)),
        h("td", { class: "num" }, fmt.n(d.credits)), h("td", { class: "num" }, fmt.n(d.failures))))))));
    const open = $("history").querySelector("details") && $("history").querySelector("details").open;
    patch($("history"), [h("div", { class: "chart", "data-key": "chart" }, svg), table]);
    if (open) $("history").querySelector("details").open = true;
  }

  function daysText(d) {
    if (d < 1) return t("less than a day");
    if (d < 1.5) return t("1 day");
    return t("{n} days", { n: fmt.n(Math.round(d)) });
  }

  // chart draws the documents per hour at the size it is shown (1 unit = 1
  // CSS pixel), so its labels are 12 px on a phone as on a desktop.
  function chart(hours) {
    const W = Math.max(280, Math.round($("chart").clientWidth || 1000)), H = 220, L = 36, B = 26, T = 10;
    const every = W < 480 ? 8 : W < 760 ? 6 : 4;
    const max = Math.max(1, ...hours.map((x) => x.docs));
    const step = (W - L) / hours.length, bw = Math.max(2, step - Math.min(4, step / 4));
    const nice = max <= 4 ? max : Math.ceil(max / 4) * 4;
    const y = (v) => T + (H - T - B) * (1 - v / nice);
    const sum = hours.reduce((s, x) => s + x.docs, 0);
    const svg = h("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": plural(sum, "Documents per hour over the last 24 hours, 1 in all", "Documents per hour over the last 24 hours, {n} in all") });
    for (let i = 0; i <= 4; i++) {
      const v = Math.round(nice * i / 4);
      svg.append(h("line", { x1: L, x2: W, y1: y(v), y2: y(v), class: "grid" }),
        h("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, fmt.n(v)));
    }
    hours.forEach((x, i) => {
      const d = new Date(x.start);
      const bx = L + i * step + 1;
      svg.append(h("rect", { x: bx, y: y(x.docs), width: bw, height: Math.max(0, H - B - y(x.docs)), rx: 2, class: "bar" },
        h("title", {}, timeFmt.format(d) + ": " + plural(x.docs, "1 document", "{n} documents") + ", " + plural(x.pages, "1 page", "{n} pages"))));
      const last = i === hours.length - 1;
      if ((hours.length - 1 - i) % every === 0) {
        svg.append(h("text", { x: last ? W : bx + bw / 2, y: H - 6, class: "axis", "text-anchor": last ? "end" : "middle" },
          last ? t("now") : timeFmt.format(d)));
      }
    });
    return svg;
  }

  // ---- files
  function filesQuery() {
    const p = new URLSearchParams();
    for (const k of ["q", "inbox", "state", "sort", "offset", "limit"]) if (ui.q[k] !== "" && ui.q[k] != null) p.set(k, ui.q[k]);
    return "files?" + p.toString();
  }
  function rowEvents(rows) {
    const was = ui.seenRows;
    ui.seenRows = new Map(rows.map((f) => [f.path, f.state]));
    if (!was) return [];
    return rows.filter((f) => was.has(f.path) && was.get(f.path) !== f.state && EVENT_STATES.includes(f.state)).map((f) => doneText(f.name, f.state));
  }
  function renderFiles(page) {
    const body = $("files-body");
    if (!page.rows.length) {
      patch(body, h("tr", { "data-key": "empty" }, h("td", { colspan: 6, class: "empty" },
        page.tracked ? t("No file matches.") : t("No files yet. Drop a PDF into an inbox and it shows up here."))));
    } else {
      patch(body, page.rows.map((f) => h("tr", { "data-path": f.path, "data-key": f.path },
        h("td", { "data-label": t("Name") }, h("a", { href: "#/file?path=" + encodeURIComponent(f.path) }, f.name),
          f.match ? h("div", { class: "muted match" }, f.match) : null),
        h("td", { "data-label": t("Inbox"), class: "muted" }, fmt.base(f.inbox)),
        h("td", { "data-label": t("State") }, badge(f.state)),
        h("td", { "data-label": t("When") }, h("time", { datetime: f.when, title: fmt.full(f.when) }, fmt.when(f.when))),
        h("td", { "data-label": t("Pages"), class: "num" }, f.pages ? fmt.n(f.pages) : "—"),
        h("td", { "data-label": t("Cost"), class: "num" }, f.cost ? fmt.credits(f.cost) : "—"))));
    }
    const from = page.total ? ui.q.offset + 1 : 0, to = ui.q.offset + page.rows.length;
    $("page-info").textContent = t("{from}–{to} of {total}", { from: fmt.n(from), to: fmt.n(to), total: fmt.n(page.total) }) +
      (page.total !== page.tracked ? " " + t("({n} tracked)", { n: fmt.n(page.tracked) }) : "");
    const csv = new URLSearchParams();
    for (const k of ["q", "inbox", "state", "sort"]) if (ui.q[k]) csv.set(k, ui.q[k]);
    $("csv").href = API + "files.csv?" + csv.toString();
    $("prev").disabled = ui.q.offset <= 0;
    $("next").disabled = to >= page.total;
    document.querySelectorAll("th[data-sort]").forEach((th) => {
      const k = th.dataset.sort;
      th.setAttribute("aria-sort", ui.q.sort === k ? "ascending" : ui.q.sort === "-" + k ? "descending" : "none");
    });
    if (ui.returnFocus) {
      const row = [...body.querySelectorAll("tr[data-path]")].find((tr) => tr.dataset.path === ui.returnFocus);
      ui.returnFocus = "";
      const target = row ? row.querySelector("a") : $("h-files");
      if (!row) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  // ---- one file
  function renderFile(f) {
    const ov = ui.overview;
    const parts = [
      h("div", { class: "file-head", "data-key": "head" },
        h("h1", { id: "h-file", tabindex: "-1" }, f.name), badge(f.state)),
      h("p", { class: "muted path", "data-key": "path" }, f.path),
    ];
    const actions = [];
    if (f.state === "failed" || f.state === "refused") {
      actions.push(h("button", { type: "button", class: "primary", id: "btn-retry", onclick: () => act("retry", [f.path]) }, t("Retry")));
    }
    if (ov && ov.reprocess && ["done", "failed", "refused"].includes(f.state)) {
      actions.push(h("button", { type: "button", class: "secondary", id: "btn-reprocess", onclick: () => act("reprocess", [f.path]) }, t("Process again")));
    }
    if (f.fix) {
      parts.push(h("div", { class: "card fix", role: "region", "aria-label": t("What went wrong"), "data-key": "fix" },
        h("h2", {}, t("What went wrong")),
        h("p", {}, fixText(f.code, "problem", f.fix.problem)),
        f.reason ? h("p", { class: "muted" }, t("Reason given: {reason}", { reason: f.reason }) + (f.code ? " (" + f.code + ")" : "")) : null,
        h("h2", {}, t("How to fix it")),
        h("p", {}, fixText(f.code, "action", f.fix.action)),
        h("div", { class: "buttons" }, actions)));
    } else if (actions.length) {
      parts.push(h("div", { class: "buttons", "data-key": "actions" }, actions));
    }
    const grid = h("div", { class: "file-grid", "data-key": "grid" });
    grid.append(h("div", { class: "card" }, h("h2", {}, t("Its life")),
      h("ol", { class: "life" }, f.life.map((e) => h("li", {},
        h("span", { class: "what" }, t(e.what)),
        e.at ? h("time", { datetime: e.at, title: fmt.full(e.at) }, " " + fmt.full(e.at)) : null,
        e.detail ? h("div", { class: "muted detail" }, e.detail) : null)))));
    grid.append(h("div", { class: "card" }, h("h2", {}, t("Details")), h("dl", { class: "kv" },
      kv(t("Inbox"), f.inbox), kv(t("Parser"), f.parser_id), kv(t("Size"), t("{n} bytes", { n: fmt.n(f.size) })),
      kv(t("Pages"), f.pages ? fmt.n(f.pages) : "—"), kv(t("Cost"), f.cost ? fmt.credits(f.cost) : "—"),
      kv("SHA-256", f.sha256), kv(t("Idempotency key"), f.idempotency_key), kv(t("Job"), f.extraction_id),
      kv(t("Document"), f.document_id), kv(t("Retries"), f.retries ? fmt.n(f.retries) : ""), kv(t("Result file"), f.result_path))));
    parts.push(grid);
    parts.push(dataCard(f));
    parts.push(originalCard(f));
    patch($("file"), parts);
    focusHeading();
  }
  // ledgerLink downloads the ledger of an inbox (null when it keeps none).
  function ledgerLink(inbox) {
    const l = ui.ledgers[inbox];
    if (!l) return null;
    return h("p", { class: "ledger", "data-key": "ledger" },
      h("a", { href: l.url, download: l.name, "data-ledger": inbox }, t("Download the ledger ({name})", { name: l.name })));
  }
  // originalCard shows the file itself: a PDF in a frame, a photo as an
  // image, and a link to open it; the server sends it only as what its
  // content is, with no script run (see original.go).
  function originalCard(f) {
    const card = h("div", { class: "card original", id: "original-card", "data-key": "original" }, h("h2", {}, t("The original")));
    if (f.state === "deleted") {
      card.append(h("p", { class: "muted" }, t("The file was deleted, so it cannot be shown.")));
      return card;
    }
    if (f.original_missing) {
      card.append(h("p", { class: "muted" }, t("The file is no longer in its inbox, so it cannot be shown.")));
      return card;
    }
    const src = API + "original?path=" + encodeURIComponent(f.path);
    const name = f.name;
    // A refused file may not be what its name says: it is offered as a
    // link only (the server sends anything not a PDF or a photo as a
    // download, which a frame would start by itself).
    const shown = f.state !== "refused";
    if (shown && /\.(png|jpe?g|webp|gif)$/i.test(name)) {
      card.append(h("img", { src, alt: t("The original of {name}", { name }), class: "preview", "data-key": "preview" }));
    } else if (shown && /\.pdf$/i.test(name)) {
      card.append(h("iframe", { src, title: t("The original of {name}", { name }), class: "preview", "data-key": "preview" }));
    }
    card.append(h("p", { "data-key": "open" }, h("a", { href: src, target: "_blank", rel: "noopener", id: "original-link" }, t("Open the original")),
      ui.ledgers[f.inbox] ? [" · ", h("a", { href: ui.ledgers[f.inbox].url, download: ui.ledgers[f.inbox].name, "data-ledger": f.inbox },
        t("Download the ledger ({name})", { name: ui.ledgers[f.inbox].name }))] : null));
    return card;
  }
  function fileEvents(f) {
    const was = ui.seenFile;
    ui.seenFile = f.state;
    return was && was !== f.state && EVENT_STATES.includes(f.state) ? [doneText(f.name, f.state)] : [];
  }
  function kv(k, v) {
    if (!v) return null;
    return [h("dt", {}, k), h("dd", {}, v)];
  }

  function dataCard(f) {
    const card = h("div", { class: "card data", id: "data-card" }, h("h2", {}, t("Extracted data")));
    const raw = h("a", { href: API + "raw?path=" + encodeURIComponent(f.path), target: "_blank", rel: "noopener" }, t("Raw JSON"));
    const doc = f.document;
    const data = doc && doc.extracted_data;
    if (!data || typeof data !== "object") {
      const why = { done: "The result has no extracted fields.", failed: "No data: the file failed (see above).",
        refused: "No data: the file was not sent (see above).", deleted: "No data: the file was deleted." };
      card.append(h("p", { class: "muted" }, f.result_note || t(why[f.state] || "No data yet: the result appears here when it is written.")));
      if (f.result_path && !f.result_note) card.append(h("p", {}, raw));
      return card;
    }
    const fields = [], tables = [];
    for (const [k, v] of Object.entries(data)) {
      if (Array.isArray(v) && v.length && v.every((x) => x && typeof x === "object" && !Array.isArray(x))) tables.push([k, v]);
      else fields.push([k, v]);
    }
    card.append(h("dl", { class: "kv fields" }, fields.map(([k, v]) => [h("dt", {}, title(k)), h("dd", {}, value(v))])));
    for (const [k, rows] of tables) {
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      card.append(h("h3", {}, title(k)), h("div", { class: "table-wrap" }, h("table", { class: "items" },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: rows.every((r) => typeof r[c] === "number" || r[c] == null) ? "num" : "" }, title(c))))),
        h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", { class: typeof r[c] === "number" ? "num" : "" }, value(r[c])))))))));
    }
    const meta = [];
    if (doc.confidence != null) meta.push(t("confidence {p}", { p: new Intl.NumberFormat(LANG, { style: "percent" }).format(doc.confidence) }));
    if (doc.processing_time_ms != null) meta.push(t("processed in {time}", { time: fmt.secs(doc.processing_time_ms / 1000) }));
    card.append(h("p", { class: "muted" }, meta.join(" · "), meta.length ? " · " : "", raw));
    return card;
  }
  function title(k) { const s = String(k).replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
  function value(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "number") return new Intl.NumberFormat(LANG, { maximumFractionDigits: 4 }).format(v);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  // ---- retry / process again, with the cost stated first
  async function act(action, paths) {
    try {
      const est = await postJSON("estimate", { action, paths });
      if (!est.files.length) {
        await confirmBox(t("Nothing to do"), t(action === "retry" ? "This file cannot be retried: {why}." : "This file cannot be processed again: {why}.", { why: Object.values(est.skipped).join(", ") }), false);
        return;
      }
      const n = est.files.length;
      let cost = est.pages ? t("about {credits}", { credits: fmt.credits(est.pages) }) : t("nothing known yet");
      if (est.unknown) cost += est.pages ? " " + t("plus the pages of {n} file(s) not counted yet", { n: est.unknown }) : " " + t("(its pages are counted when it is checked; 1 page = 1 credit)");
      const what = n === 1 ? fmt.base(est.files[0]) : plural(n, "1 file", "{n} files");
      const text = t(action === "retry" ? "Send {what} again? This costs {cost}." : "Process {what} again? This costs {cost}.", { what, cost });
      if (!(await confirmBox(action === "retry" ? t("Retry") : t("Process again"), text, true))) return;
      const ans = await postJSON(action, { paths: est.files });
      toast(ans.done.length ? t("Sent again: {names}", { names: ans.done.map(fmt.base).join(", ") }) : t("Nothing was sent: the file changed state meanwhile."));
      // Back to the list, on the file's row: the action is done, the next
      // file is what comes next.
      if (ui.view === "file") {
        ui.returnFocus = paths[0];
        location.hash = ui.listHash;
      } else refresh();
    } catch (e) {
      toast(t(action === "retry" ? "Could not retry: {error}" : "Could not process again: {error}", { error: e.message }), true);
    }
  }
  function confirmBox(heading, text, ask) {
    const d = $("confirm");
    $("c-title").textContent = heading;
    $("c-text").textContent = text;
    $("c-ok").hidden = !ask;
    d.querySelector("button[value=cancel]").textContent = ask ? t("Cancel") : t("Close");
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
      d.returnValue = "";
      d.showModal();
      (ask ? $("c-ok") : d.querySelector("button[value=cancel]")).focus();
    });
  }
  function toast(msg, bad) {
    const el = $("toast");
    el.textContent = msg;
    el.className = "toast " + (bad ? "bad" : "ok");
    el.hidden = false;
    clearTimeout(ui.toastTimer);
    ui.toastTimer = setTimeout(() => { el.hidden = true; }, 8000);
  }

  // ---- upload
  function setupUpload(ov) {
    const on = !!ov.upload;
    $("nav-upload").hidden = !on;
    if (!on) return;
    const sel = $("u-inbox");
    if (sel.options.length !== ov.inboxes.length) {
      sel.replaceChildren(...ov.inboxes.map((i, n) => h("option", { value: n }, i.name + " — " + i.path)));
    }
    $("u-types").textContent = t("Accepted: {types} · up to {mib} MiB each", { types: ov.upload.extensions.join(", "), mib: fmt.n(Math.round(ov.upload.max_bytes / 1048576)) });
    $("u-file").setAttribute("accept", ov.upload.extensions.join(","));
  }
  async function uploadFiles(files) {
    for (const f of files) {
      const li = h("li", {}, t("Uploading {name}…", { name: f.name }));
      $("u-log").prepend(li);
      try {
        const r = await fetch(API + "upload?inbox=" + encodeURIComponent($("u-inbox").value) + "&name=" + encodeURIComponent(f.name), {
          method: "POST", credentials: "same-origin", headers: { "X-PPSync-Request": "1", "Content-Type": "application/octet-stream" }, body: f,
        });
        const body = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(body.error || r.statusText);
        li.replaceChildren(t("Saved {name} — it appears in Files as soon as ppsync sees it.", { name: fmt.base(body.path) }));
        li.className = "ok";
      } catch (e) {
        li.textContent = f.name + ": " + e.message;
        li.className = "bad";
      }
    }
  }

  // ---- connection: a lost daemon greys every live number and says since
  // when; the last file page stays as it was.
  function connected(ov) {
    const msgs = [];
    if (ui.lostAt) {
      ui.lostAt = null;
      document.body.classList.remove("stale");
      $("banner-lost").hidden = true;
      msgs.push(t("Connected to ppsync again"));
    }
    const d = ov && ov.report && ov.report.daemon;
    const id = d ? (d.instance_id || "") + "|" + (d.pid || "") + "|" + (d.started || "") : "";
    if (id && ui.started && id !== ui.started) {
      const at = d.started ? new Date(d.started) : new Date();
      $("restart-text").textContent = t("ppsync restarted at {time}: the numbers start again from its state.", { time: fmt.clock(at) });
      $("banner-restart").hidden = false;
      msgs.push(t("ppsync restarted"));
    }
    if (id) ui.started = id;
    $("live").textContent = t("Live");
    $("live").className = "live ok";
    $("live").title = t("Updated {time}", { time: fmt.clock(new Date()) });
    return msgs;
  }
  function lost(e) {
    ui.overviewAt = 0; // the first answer after a loss says whether it restarted
    const first = !ui.lostAt;
    if (first) ui.lostAt = new Date();
    document.body.classList.add("stale");
    const since = fmt.clock(ui.lostAt);
    $("lost-text").textContent = e.status === 0
      ? t("ppsync is not answering since {time}. Grey numbers are from then; the page keeps trying.", { time: since })
      : t("ppsync answers with an error since {time}: {error}. Grey numbers are from then.", { time: since, error: e.message });
    $("banner-lost").hidden = false;
    $("live").textContent = t("Not connected");
    $("live").className = "live bad";
  }

  // ---- refresh loop: the overview and the list are fetched at once; a
  // refresh asked for while one runs (a search typed) runs right after it,
  // never dropped.
  async function refresh() {
    if (ui.busy) { ui.again = true; return; }
    ui.busy = true;
    try {
      const view = ui.view, needOverview = view === "overview" || !ui.overview || Date.now() - ui.overviewAt > 10000;
      const [ov, page, file] = await Promise.all([
        needOverview ? getJSON("overview") : null,
        view === "files" ? getJSON(filesQuery()) : null,
        view === "file" && ui.filePath ? getJSON("file?path=" + encodeURIComponent(ui.filePath)).catch((e) => {
          if (e.status === 404) return { notFound: e.message };
          throw e;
        }) : null,
      ]);
      const msgs = connected(ov);
      if (ov) {
        ui.overview = ov;
        ui.overviewAt = Date.now();
        setupUpload(ov);
        fillInboxFilter(ov.inboxes);
        if (!ui.ledgersLoaded) await loadLedgers();
        if (view === "overview") { msgs.push(...overviewEvents(ov.report)); renderOverview(ov); loadHistory(); } else ui.seenTotals = null;
      }
      if (view === ui.view) {
        if (page) { msgs.push(...rowEvents(page.rows)); renderFiles(page); }
        if (file && file.notFound) patch($("file"), [h("h1", { id: "h-file", tabindex: "-1", "data-key": "nf" }, t("File not found")), h("p", { class: "error" }, file.notFound)]);
        else if (file) { msgs.push(...fileEvents(file)); renderFile(file); }
      }
      announce(msgs);
      ui.polls++;
      root.dataset.polls = ui.polls;
    } catch (e) {
      lost(e);
    } finally {
      ui.busy = false;
      if (ui.again) { ui.again = false; refresh(); }
    }
  }
  // loadLedgers asks once which inboxes keep a ledger (an older ppsync
  // without the route: none).
  async function loadLedgers() {
    ui.ledgersLoaded = true;
    try {
      ui.ledgers = Object.fromEntries((await getJSON("ledgers")).map((l) => [l.inbox, l]));
    } catch (e) {
      ui.ledgers = {};
      if (e.status === 0) ui.ledgersLoaded = false; // not answering: ask again
    }
  }
  function fillInboxFilter(inboxes) {
    const sel = $("f-inbox");
    if (sel.options.length === inboxes.length + 1) return;
    sel.replaceChildren(h("option", { value: "" }, t("All inboxes")), ...inboxes.map((i) => h("option", { value: i.path }, i.name)));
    sel.value = ui.q.inbox;
  }

  async function init() {
    if (root.dataset.catalogue) {
      try {
        const r = await fetch(root.dataset.catalogue, { credentials: "same-origin" });
        if (r.ok) CAT = await r.json();
      } catch (e) { /* English stays */ }
    }
    translateStatic();
    window.addEventListener("hashchange", route);
    let timer;
    $("f-q").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { history.replaceState(null, "", filesHash({ q: $("f-q").value, offset: 0 })); route(); }, 150);
    });
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    for (const id of ["f-inbox", "f-state", "f-sort"]) {
      $(id).addEventListener("change", () => { location.hash = filesHash({ [id.slice(2)]: $(id).value, offset: 0 }); });
    }
    document.querySelectorAll("th[data-sort] button").forEach((b) => b.addEventListener("click", () => {
      const k = b.parentElement.dataset.sort;
      const sort = ui.q.sort === k ? "-" + k : k;
      location.hash = filesHash({ sort, offset: 0 });
    }));
    $("prev").addEventListener("click", () => { location.hash = filesHash({ offset: Math.max(0, ui.q.offset - ui.q.limit) }); });
    $("next").addEventListener("click", () => { location.hash = filesHash({ offset: ui.q.offset + ui.q.limit }); });
    $("restart-close").addEventListener("click", () => { $("banner-restart").hidden = true; });
    const drop = $("drop");
    $("u-file").addEventListener("change", (e) => { uploadFiles([...e.target.files]); e.target.value = ""; });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadFiles([...e.dataTransfer.files]); });
    let resize;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => { if (ui.view === "overview" && ui.overview) renderOverview(ui.overview); }, 150);
    });
    route();
    setInterval(refresh, POLL_MS);
  }
  init();
})();
