// The audio review screen: one key applies an action and moves on, like the image review.
// The spectrogram shows the window between its shaded neighbours; p plays the window's clip
// with a cursor moving over it; drawing on the spectrogram adds a time-frequency box.
"use strict";
(function () {
  const root = document.getElementById("review");
  if (!root) return;
  const classes = JSON.parse(document.getElementById("settings").textContent).classes;
  const query = root.dataset.query;
  const canWrite = root.dataset.canWrite === "1";
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const LABEL_ACTIONS = new Set(["accept", "set_class", "empty", "undo"]);
  const player = $("player");
  const box = $("specbox");

  const state = {
    detail: null, work: [], selected: null, dirty: false, busy: false,
    undo: [], lastClass: classes[0], cache: new Map(), latest: new Map(),
    autoplay: localStorage.getItem("wl.autoplay") === "1",
  };
  $("autoplay").checked = state.autoplay;

  // --- loading -------------------------------------------------------------------------------

  const detailUrl = (id) => `/api/v1/windows/${id}${query ? "?" + query : ""}`;
  const pageUrl = (id) => `/audio/${id}${query ? "?" + query : ""}`;

  function fetchDetail(id, fresh = false) {
    if (fresh || !state.cache.has(id)) {
      const p = wl.api("GET", detailUrl(id));
      p.catch(() => state.cache.delete(id));
      state.cache.set(id, p);
    }
    return state.cache.get(id);
  }

  function prefetch(d) {
    for (const id of [d.next_id, d.next_unreviewed_id]) {
      if (id) fetchDetail(id).then((n) => { new Image().src = n.spectrogram; }).catch(() => {});
    }
    if (state.cache.size > 40) state.cache.delete(state.cache.keys().next().value);
  }

  async function go(id, { fresh = false, push = true } = {}) {
    if (!id) return;
    if (state.dirty && !confirm("Discard the unsaved box edits?")) return;
    try {
      const d = await fetchDetail(id, fresh);
      show(d);
      history[push ? "pushState" : "replaceState"]({ id }, "", pageUrl(id));
      if (state.autoplay && push) play();
    } catch (e) {
      banner(e.message);
    }
  }
  window.addEventListener("popstate", (e) => { if (e.state && e.state.id) go(e.state.id, { push: false }); });

  // --- showing one window ----------------------------------------------------------------------

  function show(d) {
    state.detail = d;
    state.dirty = false;
    state.selected = null;
    state.work = workingLabels(d);
    const img = $("spectrogram");
    if (img.getAttribute("src") !== d.spectrogram) img.src = d.spectrogram;
    if (player.getAttribute("src") !== d.clip) { player.pause(); player.src = d.clip; }
    $("cursor").hidden = true;
    const span = d.view_end - d.view_start;
    $("shadeL").style.cssText = `left:0;width:${pct((d.t_start - d.view_start) / span)}`;
    $("shadeR").style.cssText = `right:0;width:${pct((d.view_end - d.t_end) / span)}`;
    $("title").textContent = `#${d.id} · ${d.t_start.toFixed(1)}–${d.t_end.toFixed(1)} s`;
    $("state").innerHTML = d.reviewed ? `<span class="ok">✓ reviewed</span> rev ${d.label_revision}` : "unreviewed";
    $("prev").disabled = !d.prev_id;
    $("next").disabled = !d.next_id;
    $("nextun").disabled = !d.next_unreviewed_id;
    $("modelname").textContent = d.model_name ? `${d.model_name}${d.has_prediction_set ? "" : " (not run on this window)"}` : "no model yet";
    $("auditlink").href = `/api/v1/media/${d.id}/history`;
    renderAxes(d);
    renderFacts(d);
    renderLabels();
    renderPredictions(d);
    renderStrip(d);
    renderHistory(d);
    hideBanner();
    prefetch(d);
  }

  const pct = (v) => `${(100 * v).toFixed(3)}%`;

  function workingLabels(d) {
    const span = (s) => ({ t_start: s.t_start, t_end: s.t_end, f_low: s.f_low, f_high: s.f_high });
    if (d.labels) {
      return d.labels.filter((b) => !b.false_positive && b.span).map((b) => ({
        ...span(b.span), class: b["class"], prediction_id: b.prediction_id, proposal: false,
      }));
    }
    return d.predictions.filter((p) => p.shown && p.span && p.known_class).map((p) => ({
      ...span(p.span), class: p["class"], prediction_id: p.id, proposal: true, score: p.score,
    }));
  }

  function renderAxes(d) {
    const ticks = [0, 0.25, 0.5, 0.75, 1];
    $("faxis").innerHTML = ticks.map((f) => `<span style="top:${pct(1 - f)}">${(f * d.f_max / 1000).toFixed(1)} kHz</span>`).join("");
    const span = d.view_end - d.view_start;
    const step = span > 20 ? 5 : 1;
    const marks = [];
    for (let t = Math.ceil(Math.max(0, d.view_start) / step) * step; t <= d.view_end; t += step) {
      marks.push(`<span style="left:${pct((t - d.view_start) / span)}">${t} s</span>`);
    }
    $("taxis").innerHTML = marks.join("");
  }

  function renderFacts(d) {
    const when = d.captured_at ? d.captured_at.replace("T", " ") : "unknown";
    const mark = d.marked ? `<span class="flag">${esc(d.marked.replace("_", " "))}</span>` : "—";
    const position = d.sequence.findIndex((f) => f.id === d.id) + 1;
    const rows = [
      ["site", esc(d.camera || "—")], ["starts", esc(when)],
      ["window", `${position || "?"} of ${d.sequence.length} · ${d.t_start.toFixed(2)}–${d.t_end.toFixed(2)} s`],
      ["split", esc(d.split || "—")], ["label", d.reviewed ? esc(d.label_class || (d.empty ? "nothing" : "—")) : "—"],
      ["marked", mark], ["recording", esc(d.path.split("#")[0].split("/").pop())],
    ];
    $("facts").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  }

  function renderLabels() {
    const d = state.detail;
    const span = d.view_end - d.view_start;
    let whole = 0; // whole-window labels are stacked bars along the top
    $("tfboxes").innerHTML = state.work.map((b, i) => {
      const band = b.f_low !== null && b.f_low !== undefined;
      const left = pct((b.t_start - d.view_start) / span), width = pct((b.t_end - b.t_start) / span);
      const top = band ? pct(1 - b.f_high / d.f_max) : `${20 * whole++}px`, height = band ? pct((b.f_high - b.f_low) / d.f_max) : "18px";
      const cls = `tf${band ? "" : " whole"}${b.proposal ? " proposal" : ""}${i === state.selected ? " sel" : ""}`;
      return `<div class="${cls}" data-i="${i}" style="left:${left};width:${width};top:${top};height:${height}"><span class="name">${esc(b.class || "?")}${b.proposal && b.score ? " " + b.score.toFixed(2) : ""}</span></div>`;
    }).join("");
    $("boxes").innerHTML = state.work.map((b, i) => {
      const where = b.f_low !== null && b.f_low !== undefined
        ? `${b.t_start.toFixed(2)}–${b.t_end.toFixed(2)} s, ${(b.f_low / 1000).toFixed(1)}–${(b.f_high / 1000).toFixed(1)} kHz`
        : "whole window";
      return `<li data-i="${i}" class="${i === state.selected ? "sel" : ""}">${esc(b.class || "?")} <span class="hint">${b.proposal ? "model proposal" : "label"} · ${where}</span></li>`;
    }).join("") || `<li class="hint">${state.detail.reviewed ? "nothing" : "the model heard nothing"}</li>`;
    $("boxhint").textContent = state.dirty ? "edited: Enter or s saves" : "drag on the spectrogram to draw";
  }

  function renderPredictions(d) {
    $("preds").innerHTML = d.predictions.map((p) =>
      `<li class="${p.shown ? "" : "below"}">${esc(p["class"])} ${p.score.toFixed(2)}${p.known_class ? "" : " (not a project class)"}${p.shown ? "" : " · below threshold"}</li>`
    ).join("") || '<li class="hint">no predictions</li>';
  }

  function renderStrip(d) {
    $("strip").innerHTML = d.sequence.map((f) =>
      `<a href="${pageUrl(f.id)}" data-id="${f.id}" class="${f.id === d.id ? "current" : ""}" title="window ${f.frame_num ?? ""}">
        <img src="/api/v1/windows/${f.id}/spectrogram?view=window&v=${d.spectrogram.split("v=")[1] || ""}" alt="" loading="lazy">
        <span class="lbl ${f.reviewed ? "rev" : ""}">${f.reviewed ? "✓ " : ""}${esc(f["class"] || "")}</span></a>`
    ).join("");
  }

  function renderHistory(d) {
    $("history").innerHTML = d.history.map((h) =>
      `<li>r${h.revision} · ${esc(h.author)} · ${esc(h.created_at.slice(0, 19).replace("T", " "))}${h.source === "unreview" ? " · undone to unreviewed" : ""}${h.empty ? " · nothing" : ""}</li>`
    ).join("") || '<li class="hint">never labelled</li>';
  }

  // --- playback ----------------------------------------------------------------------------------

  function play() {
    if (!player.paused) { player.pause(); return; }
    if (player.ended) player.currentTime = 0;
    root.dataset.played = String(Number(root.dataset.played) + 1);
    player.play().catch((e) => wl.toast(`cannot play: ${e.message}`, "bad"));
  }

  function moveCursor() {
    const d = state.detail;
    const t = d.clip_start + player.currentTime;
    const c = $("cursor");
    c.hidden = false;
    c.style.left = pct((t - d.view_start) / (d.view_end - d.view_start));
    if (!player.paused) requestAnimationFrame(moveCursor);
  }
  player.addEventListener("play", () => requestAnimationFrame(moveCursor));
  player.addEventListener("seeked", moveCursor);
  player.addEventListener("playing", () => { $("play").innerHTML = "<kbd>p</kbd> pause"; });
  player.addEventListener("pause", () => { $("play").innerHTML = "<kbd>p</kbd> play"; });

  // --- drawing time-frequency boxes ----------------------------------------------------------------

  function at(e) {
    const r = box.getBoundingClientRect(), d = state.detail;
    const fx = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    const fy = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
    return { t: d.view_start + fx * (d.view_end - d.view_start), f: (1 - fy) * d.f_max };
  }

  box.addEventListener("mousedown", (e) => {
    if (e.button !== 0) return;
    const hit = e.target.closest(".tf");
    if (hit) { select(+hit.dataset.i); return; }
    if (!canWrite) return;
    const start = at(e);
    let drawn = null;
    const move = (m) => {
      const p = at(m), d = state.detail;
      const b = {
        t_start: Math.max(Math.min(start.t, p.t), d.t_start), t_end: Math.min(Math.max(start.t, p.t), d.t_end),
        f_low: Math.min(start.f, p.f), f_high: Math.max(start.f, p.f),
        class: state.lastClass, prediction_id: null, proposal: false,
      };
      if (!drawn) { if (b.t_end - b.t_start < 0.02 || b.f_high - b.f_low < 20) return; drawn = state.work.push(b) - 1; }
      state.work[drawn] = b;
      state.selected = drawn;
      state.dirty = true;
      renderLabels();
    };
    const up = () => { document.removeEventListener("mousemove", move); document.removeEventListener("mouseup", up); };
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up);
    e.preventDefault();
  });

  function select(i) {
    state.selected = i === null || i >= state.work.length ? null : i;
    renderLabels();
  }

  // --- actions -----------------------------------------------------------------------------------

  function banner(message) { const b = $("banner"); b.textContent = message; b.className = "banner"; b.hidden = false; }
  function hideBanner() { $("banner").hidden = true; }

  async function send(method, url, body) {
    if (!canWrite) { wl.toast("read-only: viewers cannot change labels", "bad"); return null; }
    if (state.busy) return null;
    state.busy = true;
    try {
      return await wl.api(method, url, body);
    } catch (e) {
      if (e.status === 409) {
        state.dirty = false;
        await go(state.detail.id, { fresh: true, push: false });
        banner(`Conflict: ${e.message}`);
      } else banner(e.message);
      return null;
    } finally {
      state.busy = false;
    }
  }

  function tally(add = 0) {
    const n = Number(sessionStorage.getItem("wl.saved.audio") || 0) + add;
    sessionStorage.setItem("wl.saved.audio", String(n));
    $("tally").textContent = n ? `${n} saved this session` : "";
  }

  function after(d, advance) {
    state.cache.delete(d.id);
    state.dirty = false;
    tally(1);
    if (advance && d.next_id) return go(d.next_id);
    if (advance) wl.toast("last window in this filter", "good");
    return go(d.id, { fresh: true, push: false });
  }

  async function act(payload, { advance = true } = {}) {
    const d = state.detail;
    const body = { ...payload, expected_revision: d.label_revision, model_version_id: d.model_version_id };
    const r = await send("POST", `/api/v1/media/${d.id}/actions`, body);
    if (!r) return;
    state.latest.set(d.id, r.revision);
    if (LABEL_ACTIONS.has(payload.action)) state.undo.push({ kind: "labels", revision: r.revision, id: d.id });
    else state.undo.push({ kind: "mark", previous: d.marked, id: d.id });
    return after(d, advance);
  }

  async function saveBoxes({ advance = true } = {}) {
    const d = state.detail;
    const body = {
      expected_revision: d.label_revision, model_version_id: d.model_version_id, note: d.note,
      boxes: state.work.map((b) => ({
        t_start: b.t_start, t_end: b.t_end, f_low: b.f_low ?? null, f_high: b.f_high ?? null,
        class: b.class, prediction_id: b.prediction_id ?? null,
      })),
    };
    const r = await send("PUT", `/api/v1/windows/${d.id}/labels`, body);
    if (!r) return;
    state.latest.set(d.id, r.revision);
    state.undo.push({ kind: "labels", revision: r.revision, id: d.id });
    return after(d, advance);
  }

  async function undo() {
    if (state.dirty) { state.dirty = false; show(state.detail); wl.toast("edits discarded"); return; }
    const entry = state.undo.pop();
    if (!entry) { wl.toast("nothing to undo in this session"); return; }
    const body = entry.kind === "labels"
      ? { action: "undo", revision: entry.revision, expected_revision: state.latest.get(entry.id) ?? entry.revision }
      : (entry.previous ? { action: "mark", kind: entry.previous } : { action: "unmark" });
    const r = await send("POST", `/api/v1/media/${entry.id}/actions`, body);
    if (!r) return;
    if (entry.kind === "labels") state.latest.set(entry.id, r.revision);
    state.cache.delete(entry.id);
    await go(entry.id, { fresh: true, push: entry.id !== state.detail.id });
    wl.toast("undone", "good");
  }

  function applyClass(name) {
    state.lastClass = name;
    if (state.selected !== null) {
      Object.assign(state.work[state.selected], { class: name, proposal: false });
      state.dirty = true;
      return renderLabels();
    }
    return act({ action: "set_class", class: name });
  }

  // --- keys --------------------------------------------------------------------------------------

  function key(k) {
    const d = state.detail;
    if (k === "ArrowRight" || k === "j") return go(d.next_id);
    if (k === "ArrowLeft" || k === "k") return go(d.prev_id);
    if (k === "u") return go(d.next_unreviewed_id);
    if (k === "g") { location.href = $("back").href; return; }
    if (k === "p") return play();
    if (k === "x") { location.href = `/audio/${d.id}/similar`; return; }
    if (k === "P") { state.autoplay = !state.autoplay; $("autoplay").checked = state.autoplay; localStorage.setItem("wl.autoplay", state.autoplay ? "1" : "0"); return; }
    if (k === "Escape") { select(null); hideBanner(); return; }
    if (k === "Tab") { select(state.work.length ? ((state.selected ?? -1) + 1) % state.work.length : null); return; }
    if (!canWrite) { if (/^[1-9emfMzs]$/.test(k) || k === "Enter") wl.toast("read-only: viewers cannot change labels", "bad"); return; }
    if (/^[1-9]$/.test(k)) { const name = classes[+k - 1]; return name ? applyClass(name) : undefined; }
    switch (k) {
      case "Enter": case "a": return state.dirty ? saveBoxes() : act({ action: "accept" });
      case "s": return saveBoxes({ advance: false });
      case "e": return act({ action: "empty" });
      case "m": return act({ action: "mark", kind: "missed" }, { advance: false });
      case "f": return act({ action: "mark", kind: "false_positive" }, { advance: false });
      case "M": return act({ action: "unmark" }, { advance: false });
      case "z": return undo();
      case "Delete": case "Backspace": case "d":
        if (state.selected === null) { wl.toast("select a box first (click it or Tab)"); return; }
        state.work.splice(state.selected, 1);
        state.selected = null;
        state.dirty = true;
        return renderLabels();
    }
  }

  document.addEventListener("keydown", (e) => {
    if (wl.typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (!/^[1-9]$|^[aejkugpPsmfMzdx]$|^(Arrow(Left|Right)|Enter|Escape|Tab|Delete|Backspace)$/.test(e.key)) return;
    e.preventDefault();
    key(e.key);
  });
  $("legend")?.addEventListener("click", (e) => { const b = e.target.closest("button[data-key]"); if (b) key(b.dataset.key); });
  $("boxes").addEventListener("click", (e) => { const li = e.target.closest("li[data-i]"); if (li) select(+li.dataset.i); });
  $("strip").addEventListener("click", (e) => { const a = e.target.closest("a[data-id]"); if (a) { e.preventDefault(); go(+a.dataset.id); } });
  $("prev").addEventListener("click", () => go(state.detail.prev_id));
  $("next").addEventListener("click", () => go(state.detail.next_id));
  $("nextun").addEventListener("click", () => go(state.detail.next_unreviewed_id));
  $("play").addEventListener("click", play);
  $("autoplay").addEventListener("change", (e) => { state.autoplay = e.target.checked; localStorage.setItem("wl.autoplay", state.autoplay ? "1" : "0"); });

  const first = JSON.parse(document.getElementById("initial").textContent);
  history.replaceState({ id: first.id }, "", pageUrl(first.id));
  state.cache.set(first.id, Promise.resolve(first));
  show(first);
  tally();
})();
