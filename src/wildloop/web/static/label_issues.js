// Likely label errors: one tile per open issue (the frame with the box drawn, the given
// class and who gave it, the suggested class with its probability), decided with one key:
// a keep the given label, s take the suggested class; j/k move, Enter opens the frame.
"use strict";
(function () {
  const root = document.getElementById("labelissues");
  if (!root) return;
  const initial = JSON.parse(document.getElementById("initial").textContent);
  const canWrite = root.dataset.canWrite === "1";
  const admin = root.dataset.admin === "1";
  const me = root.dataset.me;
  const state = { issues: initial.issues, at: 0, busy: false };
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const pct = (p) => `${Math.round(p * 100)}%`;

  function show() {
    document.getElementById("facts").textContent = `${state.issues.length} open issues`;
    document.getElementById("tiles").innerHTML = state.issues.map((i, n) => {
      const [x, y, w, h] = i.box;
      const empty = i.kind === "empty";  // reviewed as empty; the box is the champion's
      const given = empty ? "no animal" : i.given_class;
      const box = `<span class="evbox ${empty ? "model" : "label"}" style="left:${x * 100}%;top:${y * 100}%;width:${w * 100}%;height:${h * 100}%"><em>${esc(empty ? i.suggested_class : given)}?</em></span>`;
      const own = i.labelled_by === me ? ` <span class="hint">(yours${admin ? ": admin override" : ""})</span>` : "";
      const stale = i.stale ? ` <span class="bad">saved since: find again</span>` : "";
      return `<div class="evframe repeat labelissue ${n === state.at ? "selected" : ""}" data-issue="${i.id}">
        <span class="evimg"><img src="/files/${i.media_id}/thumb" alt="frame ${i.media_id}">${box}</span>
        <span class="meta opinions">
          <span class="given">given: <b>${esc(given)}</b> (${pct(i.given_probability)}) by ${esc(i.labelled_by || "?")}${own}</span>
          <span class="suggested">suggested: <b>${esc(i.suggested_class)}</b> (${pct(i.suggested_probability)}${empty ? ", the champion's box" : ""})</span>
          <span>#${i.rank} · media ${i.media_id}${i.split ? " · " + esc(i.split) : ""}${stale}</span>
        </span></div>`;
    }).join("") || "<p>No open label issues.</p>";
    const selected = document.querySelector(".labelissue.selected");
    if (selected) selected.scrollIntoView({ block: "nearest" });
  }

  async function decide(decision) {
    if (!canWrite) { wl.toast("read-only: viewers cannot decide", "bad"); return; }
    const i = state.issues[state.at];
    if (!i || state.busy) return;
    state.busy = true;
    try {
      await wl.api("POST", `/api/v1/label-issues/${i.id}/decision`, { decision, expected_revision: i.current_revision });
      state.issues.splice(state.at, 1);
      state.at = Math.min(state.at, Math.max(0, state.issues.length - 1));
      wl.toast(decision === "keep" ? `kept ${i.given_class || "no animal"}` : `changed to ${i.suggested_class}`);
      show();
    } catch (e) { wl.toast(e.message, "bad"); }
    finally { state.busy = false; }
  }

  async function refresh() {
    if (!canWrite) { wl.toast("read-only: viewers cannot start jobs", "bad"); return; }
    try {
      const r = await wl.api("POST", "/api/v1/label-issues/refresh");
      wl.toast(`job ${r.job_id} is finding label issues; reload when it has finished`);
    } catch (e) { wl.toast(e.message, "bad"); }
  }

  const button = document.getElementById("refresh");
  if (button) button.addEventListener("click", refresh);
  document.addEventListener("keydown", (event) => {
    if (wl.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const moves = { j: 1, k: -1 };
    const current = state.issues[state.at];
    if (event.key in moves) {
      state.at = Math.min(Math.max(0, state.at + moves[event.key]), Math.max(0, state.issues.length - 1));
      show();
    } else if (event.key === "a") decide("keep");
    else if (event.key === "s") decide("change");
    else if (event.key === "Enter") { if (current) location.href = `/media/${current.media_id}`; }
    else if (event.key === "r") refresh();
    else if (event.key === "g") location.href = "/grid";
    else return;
    event.preventDefault();
  });
  show();
})();
