"use strict";
(() => {
  const API = "/ui/api/";
  const POLL_MS = 1000;
  const STATES = [
    ["settling", "Settling"], ["queued", "Queued"], ["waiting_for_credits", "Waiting for credits"],
    ["in_flight", "In flight"], ["done", "Done"], ["failed", "Failed"], ["refused", "Refused"],
  ];
  const LABEL = Object.fromEntries(STATES.concat([["deleted", "Deleted"]]));
  const $ = (id) => document.getElementById(id);

  // h builds an element; strings become text nodes (never HTML).
  function h(tag, attrs, ...kids) {
    const svg = ["svg", "rect", "line", "text", "g", "title", "path"].includes(tag);
    const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }

  async function getJSON(path) {
    const r = await fetch(API + path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
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

  const fmt = {
    n: (x) => Number(x || 0).toLocaleString(),
    when(t) {
      if (!t) return "—";
      const d = new Date(t);
      if (isNaN(d) || d.getFullYear() < 2000) return "—";
      const s = (Date.now() - d.getTime()) / 1000;
      if (s < 60) return "just now";
      if (s < 3600) return Math.floor(s / 60) + " min ago";
      if (s < 86400 && d.getDate() === new Date().getDate()) return "today " + d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    },
    full(t) { const d = new Date(t); return isNaN(d) || d.getFullYear() < 2000 ? "" : d.toLocaleString(); },
    secs(s) {
      if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
      if (s < 3600) return (s / 60).toFixed(1) + " min";
      return (s / 3600).toFixed(1) + " h";
    },
    base(p) { return String(p).split(/[\\/]/).pop(); },
    credits(n) { return n === 1 ? "1 credit" : fmt.n(n) + " credits"; },
  };

  function badge(state) {
    return h("span", { class: "badge s-" + state }, LABEL[state] || state);
  }

  // ---- state of the page
  const ui = {
    view: "overview", overview: null,
    q: { q: "", inbox: "", state: "", sort: "-when", offset: 0, limit: 50 },
    overviewAt: 0, filePath: "", fileSig: "", filesSig: "", busy: false,
  };

  // ---- routing
  function route() {
    const hash = location.hash || "#/";
    const [path, qs] = hash.slice(1).split("?");
    const params = new URLSearchParams(qs || "");
    if (path === "/files") {
      ui.view = "files";
      for (const k of ["q", "inbox", "state", "sort"]) if (params.has(k)) ui.q[k] = params.get(k);
      ui.q.offset = Number(params.get("offset") || 0);
      $("f-q").value = ui.q.q; $("f-inbox").value = ui.q.inbox; $("f-state").value = ui.q.state;
      ui.filesSig = "";
    } else if (path === "/file") {
      ui.view = "file"; ui.filePath = params.get("path") || ""; ui.fileSig = "";
    } else if (path === "/upload") {
      ui.view = "upload";
    } else ui.view = "overview";
    for (const v of ["overview", "files", "file", "upload"]) $("view-" + v).hidden = v !== ui.view;
    document.querySelectorAll("[data-nav]").forEach((a) => {
      const on = a.dataset.nav === ui.view || (ui.view === "file" && a.dataset.nav === "files");
      if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    refresh();
  }
  function filesHash(extra) {
    const q = { ...ui.q, ...extra };
    const p = new URLSearchParams();
    for (const k of ["q", "inbox", "state", "sort"]) if (q[k]) p.set(k, q[k]);
    if (q.offset) p.set("offset", q.offset);
    return "#/files?" + p.toString();
  }

  // ---- overview
  function renderOverview(ov) {
    const r = ov.report, a = ov.activity;
    const cards = [];
    const apiOK = !r.last_poll_error;
    cards.push(h("div", { class: "card stat" },
      h("h2", {}, "PerfectParser API"),
      h("p", { class: "big " + (apiOK ? "ok" : "bad") }, apiOK ? "Healthy" : "Trouble"),
      h("p", { class: "muted" }, apiOK ? (r.last_poll ? "last poll " + fmt.when(r.last_poll) : "no poll yet") : r.last_poll_error),
      h("p", { class: "muted" }, fmt.n(r.jobs_in_flight) + " jobs in flight · " + fmt.n(r.queue_depth) + " queued")));
    const credits = r.credits_available ?? (a && a.credits);
    let forecast = "burn rate known after 30 minutes";
    if (a && a.burn_per_day != null) {
      forecast = fmt.n(Math.round(a.burn_per_day)) + " a day";
      forecast += a.burn_per_day > 0 && credits != null ? " · runs out in about " + daysText(credits / a.burn_per_day) : " · nothing spent lately";
    }
    cards.push(h("div", { class: "card stat" },
      h("h2", {}, "Credits left"),
      h("p", { class: "big" + (r.waiting_for_credits ? " bad" : "") }, credits == null ? "—" : fmt.n(credits)),
      h("p", { class: "muted" }, r.waiting_for_credits ? "Waiting for credits: files are held back" : forecast)));
    if (a) {
      const total = a.hours.reduce((s, x) => s + x.docs, 0);
      const pages = a.hours.reduce((s, x) => s + x.pages, 0);
      cards.push(h("div", { class: "card stat" },
        h("h2", {}, "Last 24 hours"),
        h("p", { class: "big" }, fmt.n(total) + (total === 1 ? " document" : " documents")),
        h("p", { class: "muted" }, fmt.n(pages) + " pages")));
      cards.push(h("div", { class: "card stat" },
        h("h2", {}, "Drop to result"),
        h("p", { class: "big" }, a.latency_samples ? fmt.secs(a.latency_p50_seconds) : "—"),
        h("p", { class: "muted" }, a.latency_samples ? "median · 95% within " + fmt.secs(a.latency_p95_seconds) + " (" + fmt.n(a.latency_samples) + " results)" : "no results yet")));
    }
    $("summary").replaceChildren(...cards);
    $("chart").closest(".card").hidden = !a;
    if (a) $("chart").replaceChildren(chart(a.hours));

    $("inboxes").replaceChildren(...r.inboxes.map((inb) => {
      const healthy = inb.healthy !== false;
      const counts = { settling: inb.settling, ...inb.files };
      if (r.waiting_for_credits) { counts.waiting_for_credits = (counts.waiting_for_credits || 0) + (counts.queued || 0); counts.queued = 0; }
      return h("article", { class: "card inbox", "data-inbox": inb.path },
        h("header", {},
          h("h3", {}, fmt.base(inb.path)),
          h("span", { class: "badge " + (healthy ? "s-done" : "s-failed") }, healthy ? "Healthy" : "Unhealthy")),
        h("p", { class: "muted path" }, inb.path),
        healthy ? null : h("p", { class: "error", role: "alert" }, inb.error || "unreachable"),
        h("p", { class: "muted" }, "Parser " + inb.parser_id + " · watch: " + (inb.watch || "auto") +
          (inb.last_scan ? " · last scan " + fmt.when(inb.last_scan) : "")),
        h("ul", { class: "counts" }, STATES.map(([k, label]) => {
          const n = counts[k] || 0;
          const target = k === "settling" ? null : filesHash({ inbox: inb.path, state: k === "waiting_for_credits" ? "queued" : k, q: "", offset: 0 });
          const inner = [h("span", { class: "n", "data-count": k }, fmt.n(n)), h("span", { class: "l" }, label)];
          return h("li", { class: "c-" + k + (n ? "" : " zero") }, target ? h("a", { href: target }, inner) : h("span", {}, inner));
        })));
    }));

    const errs = r.inboxes.flatMap((i) => i.last_errors || []).sort((x, y) => new Date(y.at) - new Date(x.at)).slice(0, 8);
    $("problems").replaceChildren(errs.length ? h("div", { class: "card" },
      h("h2", {}, "Needs attention"),
      h("ul", { class: "problems" }, errs.map((e) => h("li", {},
        badge(e.state), " ",
        h("a", { href: "#/file?path=" + encodeURIComponent(e.path) }, fmt.base(e.path)),
        h("span", { class: "muted" }, " · " + e.reason + " · " + fmt.when(e.at)))))) : "");
  }

  function daysText(d) {
    if (d < 1) return "less than a day";
    if (d < 1.5) return "1 day";
    return Math.round(d) + " days";
  }

  function chart(hours) {
    const W = 1000, H = 220, L = 36, B = 26, T = 10;
    const max = Math.max(1, ...hours.map((x) => x.docs));
    const step = (W - L) / hours.length, bw = Math.max(2, step - 4);
    const nice = max <= 4 ? max : Math.ceil(max / 4) * 4;
    const y = (v) => T + (H - T - B) * (1 - v / nice);
    const svg = h("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Documents per hour over the last 24 hours, " + hours.reduce((s, x) => s + x.docs, 0) + " in all" });
    for (let i = 0; i <= 4; i++) {
      const v = Math.round(nice * i / 4);
      svg.append(h("line", { x1: L, x2: W, y1: y(v), y2: y(v), class: "grid" }),
        h("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, String(v)));
    }
    hours.forEach((x, i) => {
      const d = new Date(x.start);
      const bx = L + i * step + 2;
      svg.append(h("rect", { x: bx, y: y(x.docs), width: bw, height: Math.max(0, H - B - y(x.docs)), rx: 2, class: "bar" },
        h("title", {}, d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ": " + x.docs + " documents, " + x.pages + " pages")));
      const last = i === hours.length - 1;
      if ((hours.length - 1 - i) % 4 === 0) {
        svg.append(h("text", { x: last ? W : bx + bw / 2, y: H - 6, class: "axis", "text-anchor": last ? "end" : "middle" },
          last ? "now" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
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
  function renderFiles(page) {
    const sig = JSON.stringify(page);
    if (sig === ui.filesSig) return;
    ui.filesSig = sig;
    const body = $("files-body");
    if (!page.rows.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "empty" },
        page.tracked ? "No file matches." : "No files yet. Drop a PDF into an inbox and it shows up here.")));
    } else {
      body.replaceChildren(...page.rows.map((f) => h("tr", { "data-path": f.path },
        h("td", { "data-label": "Name" }, h("a", { href: "#/file?path=" + encodeURIComponent(f.path) }, f.name)),
        h("td", { "data-label": "Inbox", class: "muted" }, fmt.base(f.inbox)),
        h("td", { "data-label": "State" }, badge(f.state)),
        h("td", { "data-label": "When" }, h("time", { datetime: f.when, title: fmt.full(f.when) }, fmt.when(f.when))),
        h("td", { "data-label": "Pages", class: "num" }, f.pages ? fmt.n(f.pages) : "—"),
        h("td", { "data-label": "Cost", class: "num" }, f.cost ? fmt.credits(f.cost) : "—"))));
    }
    const from = page.total ? ui.q.offset + 1 : 0, to = ui.q.offset + page.rows.length;
    $("page-info").textContent = `${fmt.n(from)}–${fmt.n(to)} of ${fmt.n(page.total)}` + (page.total !== page.tracked ? ` (${fmt.n(page.tracked)} tracked)` : "");
    $("prev").disabled = ui.q.offset <= 0;
    $("next").disabled = to >= page.total;
    document.querySelectorAll("th[data-sort]").forEach((th) => {
      const k = th.dataset.sort;
      th.setAttribute("aria-sort", ui.q.sort === k ? "ascending" : ui.q.sort === "-" + k ? "descending" : "none");
    });
  }

  // ---- one file
  function renderFile(f) {
    const sig = JSON.stringify(f);
    if (sig === ui.fileSig) return;
    ui.fileSig = sig;
    const ov = ui.overview;
    const parts = [
      h("div", { class: "file-head" },
        h("h1", { id: "h-file" }, f.name), badge(f.state)),
      h("p", { class: "muted path" }, f.path),
    ];
    const actions = [];
    if (f.state === "failed" || f.state === "refused") {
      actions.push(h("button", { type: "button", class: "primary", id: "btn-retry", onclick: () => act("retry", [f.path]) }, "Retry"));
    }
    if (ov && ov.reprocess && ["done", "failed", "refused"].includes(f.state)) {
      actions.push(h("button", { type: "button", class: "secondary", id: "btn-reprocess", onclick: () => act("reprocess", [f.path]) }, "Process again"));
    }
    if (f.fix) {
      parts.push(h("div", { class: "card fix", role: "region", "aria-label": "What went wrong" },
        h("h2", {}, "What went wrong"),
        h("p", {}, f.fix.problem),
        f.reason ? h("p", { class: "muted" }, "Reason given: " + f.reason + (f.code ? " (" + f.code + ")" : "")) : null,
        h("h2", {}, "How to fix it"),
        h("p", {}, f.fix.action),
        h("div", { class: "buttons" }, actions)));
    } else if (actions.length) {
      parts.push(h("div", { class: "buttons" }, actions));
    }
    const grid = h("div", { class: "file-grid" });
    grid.append(h("div", { class: "card" }, h("h2", {}, "Its life"),
      h("ol", { class: "life" }, f.life.map((e) => h("li", {},
        h("span", { class: "what" }, e.what),
        e.at ? h("time", { datetime: e.at, title: fmt.full(e.at) }, " " + fmt.full(e.at)) : null,
        e.detail ? h("div", { class: "muted detail" }, e.detail) : null)))));
    grid.append(h("div", { class: "card" }, h("h2", {}, "Details"), h("dl", { class: "kv" },
      kv("Inbox", f.inbox), kv("Parser", f.parser_id), kv("Size", fmt.n(f.size) + " bytes"),
      kv("Pages", f.pages ? fmt.n(f.pages) : "—"), kv("Cost", f.cost ? fmt.credits(f.cost) : "—"),
      kv("SHA-256", f.sha256), kv("Idempotency key", f.idempotency_key), kv("Job", f.extraction_id),
      kv("Document", f.document_id), kv("Retries", f.retries ? String(f.retries) : ""), kv("Result file", f.result_path))));
    parts.push(grid);
    parts.push(dataCard(f));
    $("file").replaceChildren(...parts);
  }
  function kv(k, v) {
    if (!v) return null;
    return [h("dt", {}, k), h("dd", {}, v)];
  }

  function dataCard(f) {
    const card = h("div", { class: "card data", id: "data-card" }, h("h2", {}, "Extracted data"));
    const raw = h("a", { href: API + "raw?path=" + encodeURIComponent(f.path), target: "_blank", rel: "noopener" }, "Raw JSON");
    const doc = f.document;
    const data = doc && doc.extracted_data;
    if (!data || typeof data !== "object") {
      const why = { done: "The result has no extracted fields.", failed: "No data: the file failed (see above).",
        refused: "No data: the file was not sent (see above).", deleted: "No data: the file was deleted." };
      card.append(h("p", { class: "muted" }, f.result_note || why[f.state] || "No data yet: the result appears here when it is written."));
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
    if (doc.confidence != null) meta.push("confidence " + Math.round(doc.confidence * 100) + "%");
    if (doc.processing_time_ms != null) meta.push("processed in " + fmt.secs(doc.processing_time_ms / 1000));
    card.append(h("p", { class: "muted" }, meta.join(" · "), meta.length ? " · " : "", raw));
    return card;
  }
  function title(k) { const s = String(k).replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
  function value(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "number") return v.toLocaleString(undefined, { maximumFractionDigits: 4 });
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  // ---- retry / process again, with the cost stated first
  async function act(action, paths) {
    try {
      const est = await postJSON("estimate", { action, paths });
      if (!est.files.length) {
        await confirmBox("Nothing to do", "This file cannot be " + (action === "retry" ? "retried" : "processed again") + ": " + Object.values(est.skipped).join(", ") + ".", false);
        return;
      }
      const n = est.files.length;
      let cost = est.pages ? "about " + fmt.credits(est.pages) : "nothing known yet";
      if (est.unknown) cost += est.pages ? " plus the pages of " + est.unknown + " file(s) not counted yet" : " (its pages are counted when it is checked; 1 page = 1 credit)";
      const what = action === "retry" ? "Send " : "Process ";
      const text = what + (n === 1 ? fmt.base(est.files[0]) : n + " files") + " again? This costs " + cost + ".";
      if (!(await confirmBox(action === "retry" ? "Retry" : "Process again", text, true))) return;
      const ans = await postJSON(action, { paths: est.files });
      toast(ans.done.length ? "Sent again: " + ans.done.map(fmt.base).join(", ") : "Nothing was sent: the file changed state meanwhile.");
      ui.fileSig = "";
      refresh();
    } catch (e) {
      toast("Could not " + (action === "retry" ? "retry" : "process again") + ": " + e.message, true);
    }
  }
  function confirmBox(heading, text, ask) {
    const d = $("confirm");
    $("c-title").textContent = heading;
    $("c-text").textContent = text;
    $("c-ok").hidden = !ask;
    d.querySelector("button[value=cancel]").textContent = ask ? "Cancel" : "Close";
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
      d.returnValue = "";
      d.showModal();
      (ask ? $("c-ok") : d.querySelector("button[value=cancel]")).focus();
    });
  }
  function toast(msg, bad) {
    const t = $("toast");
    t.textContent = msg;
    t.className = "toast " + (bad ? "bad" : "ok");
    t.hidden = false;
    clearTimeout(ui.toastTimer);
    ui.toastTimer = setTimeout(() => { t.hidden = true; }, 8000);
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
    $("u-types").textContent = "Accepted: " + ov.upload.extensions.join(", ") + " · up to " + Math.round(ov.upload.max_bytes / 1048576) + " MiB each";
    $("u-file").setAttribute("accept", ov.upload.extensions.join(","));
  }
  async function uploadFiles(files) {
    for (const f of files) {
      const li = h("li", {}, "Uploading " + f.name + "…");
      $("u-log").prepend(li);
      try {
        const r = await fetch(API + "upload?inbox=" + encodeURIComponent($("u-inbox").value) + "&name=" + encodeURIComponent(f.name), {
          method: "POST", credentials: "same-origin", headers: { "X-PPSync-Request": "1", "Content-Type": "application/octet-stream" }, body: f,
        });
        const body = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(body.error || r.statusText);
        li.replaceChildren("Saved ", h("strong", {}, fmt.base(body.path)), " — it appears in Files as soon as ppsync sees it.");
        li.className = "ok";
      } catch (e) {
        li.textContent = f.name + ": " + e.message;
        li.className = "bad";
      }
    }
  }

  // ---- refresh loop
  async function refresh() {
    if (ui.busy) return;
    ui.busy = true;
    try {
      // The overview costs a full status report: fetch it every second only
      // while it is shown, and every 10 s otherwise (for the menu).
      if (ui.view === "overview" || !ui.overview || Date.now() - ui.overviewAt > 10000) {
        const ov = await getJSON("overview");
        ui.overview = ov;
        ui.overviewAt = Date.now();
        setupUpload(ov);
        fillInboxFilter(ov.inboxes);
        if (ui.view === "overview") renderOverview(ov);
      }
      if (ui.view === "files") renderFiles(await getJSON(filesQuery()));
      if (ui.view === "file" && ui.filePath) renderFile(await getJSON("file?path=" + encodeURIComponent(ui.filePath)));
      $("live").textContent = "Live · updated " + new Date().toLocaleTimeString();
      $("live").className = "live ok";
    } catch (e) {
      $("live").textContent = "Not updating: " + e.message;
      $("live").className = "live bad";
      if (ui.view === "file") $("file").replaceChildren(h("p", { class: "error" }, e.message));
    } finally {
      ui.busy = false;
    }
  }
  function fillInboxFilter(inboxes) {
    const sel = $("f-inbox");
    if (sel.options.length === inboxes.length + 1) return;
    sel.replaceChildren(h("option", { value: "" }, "All inboxes"), ...inboxes.map((i) => h("option", { value: i.path }, i.name)));
    sel.value = ui.q.inbox;
  }

  function init() {
    window.addEventListener("hashchange", route);
    let timer;
    $("f-q").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { history.replaceState(null, "", filesHash({ q: $("f-q").value, offset: 0 })); route(); }, 200);
    });
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    for (const id of ["f-inbox", "f-state"]) {
      $(id).addEventListener("change", () => { location.hash = filesHash({ [id.slice(2)]: $(id).value, offset: 0 }); });
    }
    document.querySelectorAll("th[data-sort] button").forEach((b) => b.addEventListener("click", () => {
      const k = b.parentElement.dataset.sort;
      const sort = ui.q.sort === k ? "-" + k : k;
      location.hash = filesHash({ sort, offset: 0 });
    }));
    $("prev").addEventListener("click", () => { location.hash = filesHash({ offset: Math.max(0, ui.q.offset - ui.q.limit) }); });
    $("next").addEventListener("click", () => { location.hash = filesHash({ offset: ui.q.offset + ui.q.limit }); });
    const drop = $("drop");
    $("u-file").addEventListener("change", (e) => { uploadFiles([...e.target.files]); e.target.value = ""; });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadFiles([...e.dataTransfer.files]); });
    route();
    setInterval(refresh, POLL_MS);
  }
  init();
})();
