// An individual's profile by keyboard: page through its sightings, unassign, move, confirm,
// pick the cover, undo. Every change is one call to the JSON API with the version this page
// last loaded (a change made meanwhile is refused: reload); the page then reloads its data.
"use strict";
(function () {
  const root = document.getElementById("profile");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const canWrite = root.dataset.canWrite === "1";
  const api = `/api/v1/individuals/${root.dataset.id}`;
  const PAGE = 12;
  const state = { ind: JSON.parse($("initial").textContent), at: 0, undo: [], busy: false };

  function sightings() { return state.ind.sightings; }
  function current() { return sightings()[state.at]; }

  function render() {
    const ind = state.ind;
    const cover = ind.cover_sighting_id;
    $("gallery").innerHTML = sightings().map((s, i) => {
      const when = s.captured_at || "";
      const notes = `${s.source === "suggestion" ? " · suggested" : ""}${s.sighting_id === cover ? " · cover" : ""}`;
      return `<a class="tile${i === state.at ? " focus" : ""}${s.sighting_id === cover ? " cover" : ""}" href="/media/${s.media_id}" data-sighting="${s.sighting_id}" data-i="${i}" title="${esc(when)} ${esc(s.camera)} (${esc(s.source)})">` +
        `<img src="/files/${s.media_id}/thumb?v=${esc((s.sha256 || "").slice(0, 12))}" loading="lazy" alt="sighting ${s.sighting_id}">` +
        `<span>${esc(when)} ${esc(s.camera)}${notes}</span></a>`;
    }).join("") || '<p class="hint">No sightings yet.</p>';
    $("facts").textContent = `${sightings().length} sightings · first seen ${ind.first_seen || "—"} · last seen ${ind.last_seen || "—"} · cameras: ${ind.cameras.join(", ") || "—"}`;
    const s = current();
    $("position").textContent = s ? `${state.at + 1} of ${sightings().length} · sighting ${s.sighting_id} (${s.source})` : "";
    const tile = $("gallery").querySelector(".tile.focus");
    if (tile) tile.scrollIntoView({ block: "nearest" });
  }

  function moveTo(i) {
    const n = sightings().length;
    if (!n) return;
    state.at = Math.max(0, Math.min(n - 1, i));
    render();
  }

  async function reload() {
    state.ind = await wl.api("GET", api);
    state.at = Math.min(state.at, Math.max(sightings().length - 1, 0));
    render();
    await redrawTimeline();
  }

  // The timeline is drawn on the server: fetch it again so it counts what the gallery shows.
  async function redrawTimeline() {
    try {
      const r = await fetch(`/individuals/${root.dataset.id}/timeline`, { credentials: "same-origin" });
      if (r.ok) $("timeline").innerHTML = await r.text();
    } catch (e) { /* the gallery is current; the chart catches up on the next change */ }
  }

  // One change: call the API, remember how to undo it, reload the profile.
  async function change(call, undo, done) {
    if (!canWrite) { wl.toast("read-only: viewers cannot change profiles", "bad"); return; }
    if (state.busy) return;
    state.busy = true;
    try {
      await call();
      if (undo) state.undo.push(undo);
      wl.toast(done, "good");
    } catch (e) {
      wl.toast(e.message, "bad", 5000);
    } finally {
      state.busy = false;
    }
    await reload();
  }

  function unassign() {
    const s = current();
    if (!s) return;
    const version = state.ind.version;
    return change(
      () => wl.api("DELETE", `/api/v1/sightings/${s.sighting_id}?version=${version}`),
      { label: "unassign", run: () => wl.api("POST", `${api}/sightings`, { label_box_id: s.label_box_id, source: s.source, score: s.score, track: "none" }) },
      `sighting ${s.sighting_id} unassigned (z undoes)`,
    );
  }

  function confirm() {
    const s = current();
    if (!s) return;
    if (s.source !== "suggestion") { wl.toast("this sighting is confirmed already"); return; }
    return change(
      () => wl.api("POST", `${api}/sightings`, { label_box_id: s.label_box_id, version: state.ind.version, track: "none" }),
      null,
      `sighting ${s.sighting_id} confirmed`,
    );
  }

  function cover() {
    const s = current();
    if (!s) return;
    const before = state.ind.cover_sighting_id;
    const undo = before ? { label: "cover", run: () => wl.api("PATCH", api, { cover_sighting_id: before }) } : null;
    return change(
      () => wl.api("PATCH", api, { cover_sighting_id: s.sighting_id, version: state.ind.version }),
      undo,
      `sighting ${s.sighting_id} is the cover photo`,
    );
  }

  function askMove() {
    const form = $("moveform");
    if (!current() || !form) return;
    if (!$("moveto").options.length) { wl.toast("no other individual of this class to move to", "bad"); return; }
    form.hidden = false;
    $("moveto").focus();
  }

  function closeMove() { $("moveform").hidden = true; document.activeElement?.blur(); }

  $("moveform")?.addEventListener("submit", (e) => {
    e.preventDefault();
    const s = current();
    const to = +$("moveto").value;
    closeMove();
    const here = state.ind.id;
    change(
      () => wl.api("POST", `/api/v1/sightings/${s.sighting_id}/move`, { individual_id: to, version: state.ind.version }),
      { label: "move", run: () => wl.api("POST", `/api/v1/sightings/${s.sighting_id}/move`, { individual_id: here }) },
      `sighting ${s.sighting_id} moved to #${to}`,
    );
  });
  $("moveform")?.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); closeMove(); }
    if (e.key === "Enter") { e.preventDefault(); $("moveform").requestSubmit(); }
  });

  async function undo() {
    const last = state.undo.pop();
    if (!last) { wl.toast("nothing to undo"); return; }
    return change(last.run, null, `${last.label} undone`);
  }

  const KEYS = {
    j: () => moveTo(state.at + 1), ArrowRight: () => moveTo(state.at + 1),
    k: () => moveTo(state.at - 1), ArrowLeft: () => moveTo(state.at - 1),
    PageDown: () => moveTo(state.at + PAGE), PageUp: () => moveTo(state.at - PAGE),
    Home: () => moveTo(0), End: () => moveTo(sightings().length - 1),
    Enter: () => { const s = current(); if (s) location.href = `/media/${s.media_id}`; },
    u: unassign, y: confirm, c: cover, m: askMove, z: undo,
  };

  document.addEventListener("keydown", (e) => {
    if (wl.typing(e) || e.ctrlKey || e.metaKey || e.altKey || !KEYS[e.key]) return;
    e.preventDefault();
    KEYS[e.key]();
  });
  $("gallery").addEventListener("click", (e) => {
    const tile = e.target.closest(".tile[data-i]");
    if (!tile || e.button !== 0) return;
    e.preventDefault();
    moveTo(+tile.dataset.i);
  });

  render();
})();
