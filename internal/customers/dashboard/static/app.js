// The operator dashboard: polls /dashboard/api/state every 2s and draws it.
// Plain JavaScript, no dependencies; charts are inline SVG.
"use strict";
(function () {
  const POLL_MS = 2000;
  const C = { ok: "#16a34a", warn: "#f59e0b", bad: "#dc2626", blue: "#2563eb", violet: "#7c3aed", mute: "#6b7280" };
  let state = null;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const num = (v, d) => (v === undefined || v === null || isNaN(v) ? "–" : Number(v).toFixed(d === undefined ? 1 : d));
  const int = (v) => (v === undefined || v === null ? "0" : String(v));

  // token: kept in localStorage, sent with the replay POST.
  const tok = $("token");
  tok.value = localStorage.getItem("customers-token") || "";
  tok.addEventListener("change", () => localStorage.setItem("customers-token", tok.value.trim()));

  // chart draws series [{values, color, label}] over the history as an SVG.
  function chart(title, series, opts) {
    opts = opts || {};
    const W = 360, H = opts.height || 70, P = 2;
    let maxV = opts.min || 0;
    let n = 0;
    for (const s of series) { n = Math.max(n, s.values.length); for (const v of s.values) if (v > maxV) maxV = v; }
    if (maxV <= 0) maxV = 1;
    const x = (i) => (n <= 1 ? W - P : P + (i * (W - 2 * P)) / (n - 1));
    const y = (v) => H - P - (v / maxV) * (H - 2 * P - 10);
    let paths = "";
    for (const s of series) {
      if (!s.values.length) continue;
      const d = s.values.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
      if (s.fill) paths += `<path d="${d} L${x(s.values.length - 1).toFixed(1)} ${H - P} L${x(0).toFixed(1)} ${H - P} Z" fill="${s.color}" opacity="0.15"/>`;
      paths += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6" stroke-linejoin="round"/>`;
    }
    const grid = `<line x1="0" y1="${H - P}" x2="${W}" y2="${H - P}" stroke="#e5e7eb"/>`;
    const scale = `<span class="scale">${n === 0 ? "collecting…" : "max " + esc(num(maxV, maxV < 10 ? 1 : 0)) + esc(opts.unit || "")}</span>`;
    const legend = series.filter((s) => s.label).map((s) => `<i style="background:${s.color}"></i>${esc(s.label)}`).join("");
    if (!title && !legend) return `<div class="chart"><svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" height="${H}">${grid}${paths}</svg></div>`;
    return `<div class="chart"><div class="title">${esc(title)} <span class="legend">${legend}</span>${scale}</div>` +
      `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" height="${H}">${grid}${paths}</svg></div>`;
  }

  const hist = (fn) => (state.history || []).map(fn);
  const last = () => (state.history && state.history.length ? state.history[state.history.length - 1] : null);

  function renderDeps() {
    const p = last();
    $("deps").innerHTML = state.dependencies.map((d) => {
      const t = d.totals, st = d.state || "no breaker";
      const now = (p && p.dependencies[d.name]) || {};
      const all = t.successes + t.failures || 1;
      const firsts = t.attempts - t.retries;
      const lat = t.latency_ms || {};
      const g = (k) => hist((h) => (h.dependencies[d.name] || {})[k] || 0);
      return `<div class="card ${esc(d.state)}" data-dependency="${esc(d.name)}">
        <h3>${esc(d.name)} <span class="badge ${esc(d.state)}">${esc(st)}</span></h3>
        <div class="kpis">
          <div class="kpi"><b>${num(now.calls)}</b><span>attempts/s</span></div>
          <div class="kpi"><b>${int(t.attempts)}</b><span>attempts</span></div>
          <div class="kpi"><b class="ok">${int(t.successes)}</b><span>success</span></div>
          <div class="kpi"><b class="warn">${int(t.retries)}</b><span>retries</span></div>
          <div class="kpi"><b class="bad">${int(t.failures)}</b><span>failures</span></div>
          <div class="kpi"><b>${num(lat.p50)}</b><span>p50 ms</span></div>
          <div class="kpi"><b>${num(lat.p95)}</b><span>p95 ms</span></div>
          <div class="kpi"><b>${num(lat.p99)}</b><span>p99 ms</span></div>
        </div>
        <div class="split" title="success ${t.successes} / retries ${t.retries} / failures ${t.failures}">
          <div class="s" style="width:${(100 * Math.max(0, t.successes - 0)) / all}%"></div>
          <div class="f" style="width:${(100 * t.failures) / all}%"></div>
        </div>
        <div class="charts">
          ${chart("attempts/s", [{ values: g("successes"), color: C.ok, label: "ok", fill: true }, { values: g("retries"), color: C.warn, label: "retry" }, { values: g("failures"), color: C.bad, label: "fail" }])}
          ${chart("latency", [{ values: g("p50"), color: C.blue, label: "p50" }, { values: g("p95"), color: C.violet, label: "p95" }, { values: g("p99"), color: C.bad, label: "p99" }], { unit: " ms" })}
        </div>
        <div class="breakers">${d.breakers.map((b) => `${esc(b.name)}: ${esc(b.state)}, ${b.trips} trips, ${b.consecutive_failures} failures in a row`).join("<br>") || "no breakers"} · first attempts ${int(firsts)}</div>
      </div>`;
    }).join("") || '<p class="hint">no dependencies</p>';
  }

  function renderBus() {
    const p = last();
    $("subs").querySelector("tbody").innerHTML = state.subscriptions.map((s) => {
      const now = (p && p.subscriptions[s.name]) || {};
      const t = s.totals;
      const spark = chart("", [{ values: hist((h) => (h.subscriptions[s.name] || {}).handled || 0), color: C.ok, label: "", fill: true },
        { values: hist((h) => (h.subscriptions[s.name] || {}).dead_lettered || 0), color: C.bad, label: "" }], { height: 28 });
      return `<tr data-subscription="${esc(s.name)}"><td><b>${esc(s.name)}</b></td><td>${esc(s.event_type || "")}</td>
        <td class="n">${num(now.published, 2)}</td><td class="n">${num(now.handled, 2)}</td><td class="n">${num(now.redelivered, 2)}</td><td class="n">${num(now.dead_lettered, 2)}</td>
        <td class="n">${int(t.acked + t.skipped)}</td><td class="n">${int(t.redelivered)}</td><td class="n">${int(t.dead_lettered)}</td><td style="width:160px">${spark}</td></tr>`;
    }).join("");
    const total = (k) => hist((h) => Object.values(h.subscriptions).reduce((a, v) => a + (v[k] || 0), 0));
    $("buschart").innerHTML = chart("all subscriptions, per second (published: events the relay published)", [
      { values: hist((h) => h.published), color: C.blue, label: "published" },
      { values: total("handled"), color: C.ok, label: "handled", fill: true },
      { values: total("redelivered"), color: C.warn, label: "redelivered" },
      { values: total("dead_lettered"), color: C.bad, label: "dead-lettered" }], { height: 90 });
  }

  function renderDLQ() {
    const dl = state.dead_letters;
    $("dlqnote").textContent = !dl.readable ? "this transport cannot list its dead letters"
      : dl.replayable ? "what each dead-letter queue holds now; replay sends them back to their subscription (needs the token)"
      : "replay not supported by this transport";
    $("dlq").querySelector("tbody").innerHTML = state.subscriptions.map((s) => {
      const q = s.dlq;
      const reasons = Object.entries(q.by_reason || {}).map(([r, n]) => `<span class="reason">${esc(r)}: ${n}</span>`).join("") || (q.error ? `<span class="bad">${esc(q.error)}</span>` : '<span class="hint">empty</span>');
      const disabled = !dl.replayable || q.messages === 0 ? "disabled" : "";
      const title = dl.replayable ? "" : 'title="replay not supported by this transport"';
      return `<tr><td><b>${esc(s.name)}</b></td><td class="n">${q.messages}${q.truncated ? "+" : ""}</td><td>${reasons}</td>
        <td><button data-replay="${esc(s.name)}" ${disabled} ${title}>replay</button></td></tr>`;
    }).join("");
  }

  function renderOutbox() {
    const o = state.outbox;
    const age = o.oldest ? Math.max(0, (Date.parse(state.at) - Date.parse(o.oldest)) / 1000) : 0;
    $("outboxbody").innerHTML = `<div class="kpis">
        <div class="kpi"><b class="big ${o.unsent > 0 ? "warn" : "ok"}">${int(o.unsent)}</b><span>unsent</span></div>
        <div class="kpi"><b class="${o.failed > 0 ? "bad" : ""}">${int(o.failed)}</b><span>failed at least once</span></div>
        <div class="kpi"><b>${o.oldest ? num(age, 1) + " s" : "–"}</b><span>oldest unsent</span></div>
        <div class="kpi"><b>${int(Object.values(state.published || {}).reduce((a, v) => a + v, 0))}</b><span>published</span></div>
        <div class="kpi"><b class="${state.publish_errors ? "bad" : ""}">${int(state.publish_errors)}</b><span>publish errors</span></div>
        <div class="kpi" id="parkedkpi"><b class="${o.parked > 0 ? "bad" : ""}">${int(o.parked)}</b><span>parked</span></div>
      </div>${state.outbox_error ? `<p class="bad">${esc(state.outbox_error)}</p>` : ""}` + renderParked(o) +
      chart("unsent and parked rows", [{ values: hist((h) => h.outbox_unsent), color: C.warn, label: "unsent", fill: true },
        { values: hist((h) => h.outbox_parked || 0), color: C.bad, label: "parked" }], { height: 60 });
  }

  // renderParked: the rows the relay stopped trying to publish, by reason, and
  // the button that puts them back in the outbox.
  function renderParked(o) {
    const p = state.parked || {};
    const reasons = Object.entries(p.by_reason || {}).map(([r, n]) => `<span class="reason">${esc(r)}: ${n}</span>`).join("");
    const since = Object.entries(p.since_start || {}).map(([r, n]) => `${esc(r)} ${n}`).join(", ");
    const disabled = !p.replayable || !(o.parked > 0) ? "disabled" : "";
    return `<div id="parked" class="parked">
        <span class="hint">parked (not published until replayed):</span> ${reasons || (p.error ? `<span class="bad">${esc(p.error)}</span>` : '<span class="hint">none</span>')}
        <button data-replay-parked="1" ${disabled} title="put the parked rows back in the outbox (needs the token); unroutable rows park again until a queue is bound to their type">replay parked</button>
        ${since ? `<div class="hint">parked since the start: ${since}</div>` : ""}
      </div>`;
  }

  async function poll() {
    try {
      const r = await fetch("/dashboard/api/state", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      state = await r.json();
      renderDeps(); renderBus(); renderDLQ(); renderOutbox();
      $("status").className = "status";
      $("status").textContent = "updated " + new Date(state.at).toLocaleTimeString() + " · up since " + new Date(state.since).toLocaleTimeString() + " · " + (state.history || []).length + " samples";
    } catch (e) {
      $("status").className = "status err";
      $("status").textContent = "cannot reach the service: " + e.message;
    }
  }

  document.addEventListener("click", async (ev) => {
    if (ev.target && ev.target.getAttribute && ev.target.getAttribute("data-replay-parked")) {
      ev.target.disabled = true;
      const msg = $("parkedmsg");
      try {
        const r = await fetch("/dashboard/api/outbox/parked/replay", {
          method: "POST", headers: { Authorization: "Bearer " + tok.value.trim() } });
        const body = await r.json().catch(() => ({}));
        msg.textContent = r.status === 401 ? "replay refused: set a valid token above"
          : r.ok ? `outbox: ${body.replayed} parked rows replayed` : `outbox: ${body.error || "HTTP " + r.status}`;
      } catch (e) {
        msg.textContent = "outbox: " + e.message;
      }
      poll();
      return;
    }
    const sub = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-replay");
    if (!sub) return;
    ev.target.disabled = true;
    const msg = $("replaymsg");
    try {
      const r = await fetch("/dashboard/api/deadletters/" + encodeURIComponent(sub) + "/replay", {
        method: "POST", headers: { Authorization: "Bearer " + tok.value.trim() } });
      const body = await r.json().catch(() => ({}));
      msg.textContent = r.status === 401 ? "replay refused: set a valid token above"
        : r.ok ? `${sub}: ${body.replayed} replayed` : `${sub}: ${body.error || "HTTP " + r.status}`;
    } catch (e) {
      msg.textContent = sub + ": " + e.message;
    }
    poll();
  });

  poll();
  setInterval(poll, POLL_MS);
})();
