// Repeat detections: one tile per group (camera, frames, bursts, example crops with the box
// drawn), decided with one key: f false positive, r real; j/k move between tiles. A decision
// over a large group answers 202: its job labels the frames, shown live above the tiles.
"use strict";
(function () {
  const root = document.getElementById("repeats");
  if (!root) return;
  const initial = JSON.parse(document.getElementById("initial").textContent);
  const canWrite = root.dataset.canWrite === "1";
  const state = { groups: initial.groups, at: 0, busy: false };
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  function show() {
    const [x, y, w, h] = [0, 1, 2, 3];
    document.getElementById("facts").textContent = `${state.groups.length} undecided groups`;
    document.getElementById("tiles").innerHTML = state.groups.map((g, i) => {
      const box = `<span class="evbox model" style="left:${g.box[x] * 100}%;top:${g.box[y] * 100}%;width:${g.box[w] * 100}%;height:${g.box[h] * 100}%"></span>`;
      const crops = g.examples.map((m) =>
        `<span class="evimg"><img src="/files/${m}/thumb" alt="frame ${m}">${box}</span>`).join("");
      return `<div class="evframe repeat ${i === state.at ? "selected" : ""}" data-group="${g.group}">
        ${crops}<span class="meta">${esc(g.camera)} · ${g.frames} frames · ${g.bursts} bursts · group ${g.group}</span></div>`;
    }).join("") || "<p>No undecided repeat detections.</p>";
  }

  async function decide(decision) {
    if (!canWrite) { wl.toast("read-only: viewers cannot decide", "bad"); return; }
    const g = state.groups[state.at];
    if (!g || state.busy) return;
    state.busy = true;
    try {
      const r = await wl.api("POST", `/api/v1/repeats/${g.group}/decision`, { decision, ...initial.rule });
      state.groups.splice(state.at, 1);
      state.at = Math.min(state.at, Math.max(0, state.groups.length - 1));
      if (r.job_id) {
        watched.set(r.job_id, r.status_url);
        wl.toast(`group ${g.group}: ${decision.replace("_", " ")}; job #${r.job_id} labels its ${g.frames} frames`);
        poll();
      } else {
        wl.toast(`group ${g.group}: ${decision.replace("_", " ")}, ${r.labelled} frames labelled`);
      }
      show();
    } catch (e) { wl.toast(e.message, "bad"); }
    finally { state.busy = false; }
  }

  // --- live progress of the decisions' jobs (any started here, from the CLI or elsewhere) ---
  const live = document.getElementById("decision-jobs");
  const watched = new Map();  // job id -> status_url, for the decisions made on this page
  const finished = [];  // lines for watched jobs that ended while the page was open
  let timer = null;
  function renderJobs(jobs) {
    const rows = jobs.map((j) => `
      <div class="job state-${esc(j.state)}" data-job="${j.id}"><div class="jobhead"><b>#${j.id} repeat decision</b> <span class="state">${esc(j.state)}</span></div>
      <div class="bar"><span style="width:${j.percent || 0}%"></span></div>
      <div class="sub">${j.done}${j.total ? " / " + j.total : ""} frames${j.message ? " · " + esc(j.message) : ""}</div></div>`);
    live.innerHTML = rows.join("") + finished.map((f) => `<p class="hint done">${esc(f)}</p>`).join("");
  }
  async function poll() {
    clearTimeout(timer);
    try {
      const jobs = (await wl.api("GET", live.dataset.poll)).filter((j) => j.kind === "repeat-decision");
      for (const [id, url] of [...watched]) {
        if (jobs.some((j) => j.id === id)) continue;
        watched.delete(id);
        const s = await wl.api("GET", url);
        const job = s.undo_job && s.undo_job.id === id ? s.undo_job : s.job;
        finished.push(`decision ${s.decision_id}: job #${id} ${job ? job.state : "ended"}, ${s.labelled} frames labelled`);
      }
      renderJobs(jobs);
      if (jobs.length || watched.size) timer = setTimeout(poll, 1000);
    } catch (e) { timer = setTimeout(poll, 3000); }
  }
  poll();

  document.addEventListener("keydown", (event) => {
    if (wl.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const moves = { j: 1, k: -1 };
    if (event.key in moves) {
      state.at = Math.min(Math.max(0, state.at + moves[event.key]), Math.max(0, state.groups.length - 1));
      show();
    } else if (event.key === "f") decide("false_positive");
    else if (event.key === "r") decide("real");
    else if (event.key === "g") location.href = "/grid";
    else return;
    event.preventDefault();
  });
  show();
})();
