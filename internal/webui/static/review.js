// The review view (#/review): the results held for a person to check, the
// original beside the extracted fields, and the decisions. Keys: a approve,
// r reject, n not a duplicate, e edit, j/k next/previous; after each decision the
// next result opens.
(function () {
  "use strict";
  const API = "/api/review";
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids) if (c) n.append(c);
    return n;
  };
  const st = { items: [], current: null, doc: null, busy: false, timer: 0 };

  const active = () => (location.hash || "").startsWith("#/review");

  function show() {
    const view = $("view-review");
    if (!view) return;
    const on = active();
    if (on) {
      document.querySelectorAll("main > section").forEach((s) => { s.hidden = s !== view; });
      document.querySelectorAll("[data-nav]").forEach((a) => {
        if (a.dataset.nav === "review") a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
      });
      if (!view.firstChild) build(view);
      load(true);
    } else {
      view.hidden = true;
      const link = document.querySelector('[data-nav="review"]');
      if (link) link.removeAttribute("aria-current");
    }
  }

  function build(view) {
    view.append(
      el("h1", { id: "h-review", text: "Review" }),
      el("p", { class: "muted", text: "Results held for a person to check. They reach <file>.json and the ledger only once approved. Keys: a approve, r reject, n not a duplicate, e edit the highlighted field (Escape leaves it), j/k next/previous." }),
      el("div", { class: "rv-layout" },
        el("aside", { class: "rv-queue", "aria-label": "Queue" },
          el("p", { id: "rv-count", class: "rv-count", "aria-live": "polite" }),
          el("ul", { id: "rv-inboxes", class: "rv-inboxes" }),
          el("ol", { id: "rv-list", class: "rv-list" })),
        el("div", { id: "rv-item", class: "rv-item" })));
  }

  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!r.ok) throw new Error((await r.text()).trim() || "HTTP " + r.status);
    return r.json();
  }

  async function load(open) {
    if (!active()) return;
    let list;
    try { list = await getJSON(API); } catch (e) { $("rv-count").textContent = "Cannot read the review queue: " + e.message; return; }
    st.items = list.items || [];
    $("rv-count").textContent = list.count === 0 ? "Nothing to review." : list.count + (list.count === 1 ? " result" : " results") + " to review";
    const inb = $("rv-inboxes");
    inb.replaceChildren(...Object.entries(list.by_inbox || {}).map(([p, n]) => el("li", { text: p + ": " + n })));
    renderList();
    if (open || !st.current || !st.items.some((i) => i.id === st.current)) openItem(st.items.length ? st.items[0].id : null);
  }

  function renderList() {
    $("rv-list").replaceChildren(...st.items.map((it) => {
      const a = el("a", { href: "#/review?id=" + it.id, "data-id": it.id, "aria-current": it.id === st.current ? "true" : null },
        el("span", { class: "rv-name", text: it.file.split(/[\\/]/).pop() }),
        el("span", { class: "rv-why", text: it.reasons.map((r) => r.rule.replace("_", " ")).join(", ") }));
      a.addEventListener("click", (ev) => { ev.preventDefault(); openItem(it.id); });
      return el("li", {}, a);
    }));
  }

  async function openItem(id) {
    st.current = id;
    st.doc = null;
    renderList();
    const box = $("rv-item");
    if (!id) { box.replaceChildren(el("p", { class: "muted", id: "rv-empty", text: "Nothing waits for review." })); return; }
    let it;
    try { it = await getJSON(API + "/" + encodeURIComponent(id)); } catch (e) { box.replaceChildren(el("p", { class: "error", text: e.message })); return; }
    if (st.current !== id) return;
    st.doc = it;
    const doc = it.document || {};
    const data = doc.extracted_data || {};
    const flagged = new Set(it.reasons.filter((r) => r.field).map((r) => r.field));
    const dup = it.reasons.some((r) => r.rule === "duplicate");
    const name = it.file.split(/[\\/]/).pop();
    const src = API + "/" + encodeURIComponent(id) + "/original";
    const original = /\.(png|jpe?g|webp)$/i.test(name)
      ? el("img", { src, alt: "The original of " + name, class: "rv-original" })
      : el("iframe", { src, title: "The original of " + name, class: "rv-original" });
    const fields = el("table", { class: "rv-fields" }, el("caption", { text: "Extracted fields" + (typeof doc.confidence === "number" ? " (confidence " + doc.confidence.toFixed(2) + ")" : "") }));
    const tbody = el("tbody");
    const keys = Object.keys(data);
    for (const r of it.reasons) if (r.field && !keys.includes(r.field)) keys.push(r.field);
    for (const k of keys) {
      const v = data[k];
      const text = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      const input = typeof v === "object" && v !== null
        ? el("textarea", { id: "rv-f-" + k, name: k, rows: "3", "data-orig": text })
        : el("input", { id: "rv-f-" + k, name: k, "data-orig": text, autocomplete: "off" });
      input.value = text;
      input.addEventListener("focus", () => input.select());
      tbody.append(el("tr", { class: flagged.has(k) ? "rv-flag" : null, "data-field": k },
        el("th", { scope: "row" }, el("label", { for: "rv-f-" + k, text: k })), el("td", {}, input)));
    }
    fields.append(tbody);
    const reasons = el("ul", { class: "rv-reasons", "aria-label": "Why it is held" },
      ...it.reasons.map((r) => el("li", { class: "rv-reason", "data-rule": r.rule, text: r.message })));
    const note = el("input", { id: "rv-note", placeholder: "Note (kept with the decision; the reason of a rejection)", autocomplete: "off" });
    const btn = (key, label, cls, fn) => {
      const b = el("button", { type: "button", class: cls, "data-action": key, "aria-keyshortcuts": key },
        el("kbd", { text: key }), " " + label);
      b.addEventListener("click", fn);
      return b;
    };
    const buttons = el("div", { class: "rv-buttons" },
      btn("a", "Approve", "primary", () => decide("approve")),
      btn("r", "Reject", "secondary", () => decide("reject")),
      dup ? btn("n", "Not a duplicate", "secondary", () => decide("approve", true)) : null);
    box.replaceChildren(
      el("h2", { id: "rv-title", text: name }),
      el("p", { class: "muted", text: (it.file.startsWith(it.inbox) ? it.file.slice(it.inbox.length).replace(/^[\\/]/, "") : it.file) +
        " in " + it.inbox + " · held " + new Date(it.held_at).toLocaleString() }),
      reasons,
      // The fields come first for the keyboard (Tab), the original is shown
      // on the left (review.css).
      el("div", { class: "rv-split" }, el("div", { class: "rv-right" }, fields, note, buttons), el("div", { class: "rv-left" }, original)),
      el("p", { id: "rv-msg", role: "status", "aria-live": "polite" }));
  }

  async function decide(verb, notDuplicate) {
    if (st.busy || !st.doc) return;
    const id = st.doc.id;
    if (notDuplicate && !st.doc.reasons.some((r) => r.rule === "duplicate")) return;
    const set = {};
    document.querySelectorAll("#rv-item [data-orig]").forEach((i) => { if (i.value !== i.dataset.orig) set[i.name] = i.value === "" ? "null" : i.value; });
    const body = { note: $("rv-note") ? $("rv-note").value : "" };
    if (verb === "approve") { body.set = set; body.not_duplicate = !!notDuplicate; }
    st.busy = true;
    try {
      const r = await fetch(API + "/" + encodeURIComponent(id) + "/" + verb, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-PPSync-Request": "1", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error((await r.text()).trim() || "HTTP " + r.status);
      const ans = await r.json();
      const i = st.items.findIndex((x) => x.id === id);
      st.items.splice(i, 1);
      const next = st.items[Math.min(Math.max(i, 0), st.items.length - 1)];
      document.body.dataset.lastDecision = verb + ":" + id + ":" + ans.output;
      st.busy = false;
      await openItem(next ? next.id : null);
      load(false);
    } catch (e) {
      st.busy = false;
      const m = $("rv-msg");
      if (m) { m.textContent = "Not done: " + e.message; m.className = "error"; }
    }
  }

  // edit focuses the first highlighted field (or the first field).
  function edit() {
    const f = document.querySelector("#rv-item tr.rv-flag [data-orig]") || document.querySelector("#rv-item [data-orig]");
    if (f) f.focus();
  }

  function move(step) {
    if (!st.items.length) return;
    const i = st.items.findIndex((x) => x.id === st.current);
    const n = st.items[(Math.max(i, 0) + step + st.items.length) % st.items.length];
    openItem(n.id);
  }

  document.addEventListener("keydown", (ev) => {
    if (!active() || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    const acts = { a: () => decide("approve"), r: () => decide("reject"), n: () => decide("approve", true), j: () => move(1), k: () => move(-1), e: edit };
    const f = acts[ev.key];
    if (f) { ev.preventDefault(); f(); }
  });
  window.addEventListener("hashchange", () => setTimeout(show, 0));
  const start = () => {
    setTimeout(show, 0);
    st.timer = setInterval(() => { if (active() && !st.busy) load(false); }, 5000);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
