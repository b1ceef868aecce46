// The event view: every frame of a burst with its boxes, labelled with one key. The
// suggestion (the model's classes smoothed over the event) is shown and applied only when
// the reviewer accepts it. Each action sends the label revision seen for every frame: if
// anyone saved a frame since, nothing is saved and the event reloads with the message.
"use strict";
(function () {
  const root = document.getElementById("event");
  if (!root) return;
  const classes = JSON.parse(document.getElementById("settings").textContent).classes;
  const canWrite = root.dataset.canWrite === "1";
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const state = { event: null, busy: false };

  function banner(message) { const b = $("banner"); b.textContent = message; b.hidden = false; }

  function show(ev) {
    state.event = ev;
    $("title").textContent = `Event ${ev.id}`;
    const when = ev.started_at ? ev.started_at.replace("T", " ") : "unknown time";
    $("facts").textContent = `${ev.camera || "no camera"} · ${when} · ${ev.frames.length} frames · ${ev.split}`;
    $("suggestion").textContent = ev.suggestion_text + (ev.suggestion_applicable ? "" : " (not a project class: pick one)");
    const counts = Object.entries(ev.counts).map(([c, n]) => `${c} ×${n}`).join(", ");
    $("counts").textContent = `labelled: ${counts || "nothing yet"}`;
    $("progress").textContent = `${ev.reviewed_frames} of ${ev.frames.length} frames reviewed`;
    $("prev").disabled = !ev.prev_id;
    $("next").disabled = !ev.next_id;
    $("nextun").disabled = !ev.next_unreviewed_id;
    $("frames").innerHTML = ev.frames.map((f) => {
      const boxes = f.boxes.map((b) =>
        `<span class="evbox ${b.score === null ? "label" : "model"}" style="left:${b.x * 100}%;top:${b.y * 100}%;width:${b.w * 100}%;height:${b.h * 100}%">` +
        `<em>${esc(b["class"] || "?")}${b.score === null ? "" : " " + b.score.toFixed(2)}</em></span>`).join("");
      const state = f.reviewed ? (f.empty ? "✓ no animal" : "✓ reviewed") : "unreviewed";
      return `<a class="evframe ${f.reviewed ? "reviewed" : ""}" href="/media/${f.id}" data-id="${f.id}" data-revision="${f.label_revision}">
        <span class="evimg"><img src="/files/${f.id}/thumb?v=${(f.sha256 || "").slice(0, 12)}" alt="frame ${f.id}">${boxes}</span>
        <span class="meta">#${f.id} · ${esc(state)} · rev ${f.label_revision}</span></a>`;
    }).join("");
    $("banner").hidden = true;
  }

  async function load(id, push = true) {
    if (!id) return;
    try {
      const ev = await wl.api("GET", `/api/v1/events/${id}`);
      show(ev);
      if (push) history.pushState({ id }, "", `/events/${id}`);
    } catch (e) { banner(e.message); }
  }
  window.addEventListener("popstate", (e) => { if (e.state && e.state.id) load(e.state.id, false); });

  async function act(action, extra = {}) {
    if (!canWrite) { wl.toast("read-only: viewers cannot change labels", "bad"); return; }
    if (state.busy) return;
    const ev = state.event;
    const expected = Object.fromEntries(ev.frames.map((f) => [f.id, f.label_revision]));
    state.busy = true;
    try {
      const r = await wl.api("POST", `/api/v1/events/${ev.id}/actions`, {
        action, ...extra, expected_revisions: expected, model_version_id: ev.model_version_id,
      });
      const counts = Object.entries(r.counts).map(([c, n]) => `${c} ×${n}`).join(", ");
      wl.toast(`event ${ev.id}: ${Object.keys(r.revisions).length} frames saved${counts ? " · " + counts : " · no animal"}`, "good");
      const following = ev.next_unreviewed_id;
      if (following) await load(following);
      else { await load(ev.id, false); wl.toast("every event is reviewed", "good"); }
    } catch (e) {
      if (e.status === 409) { await load(ev.id, false); banner(`Conflict: ${e.message}`); }
      else banner(e.message);
    } finally {
      state.busy = false;
    }
  }

  function key(k) {
    const ev = state.event;
    if (k === "ArrowRight" || k === "j") return load(ev.next_id);
    if (k === "ArrowLeft" || k === "k") return load(ev.prev_id);
    if (k === "u") return load(ev.next_unreviewed_id);
    if (k === "g") { location.href = "/grid"; return; }
    if (k === "o") { location.href = `/media/${ev.frames[0].id}`; return; }
    if (k === "Enter" || k === "a") return act("accept");
    if (k === "e") return act("empty");
    if (/^[1-9]$/.test(k) && classes[+k - 1]) return act("set_class", { class: classes[+k - 1] });
  }

  document.addEventListener("keydown", (e) => {
    if (wl.typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (!/^[1-9]$|^[aegjkou]$|^(ArrowLeft|ArrowRight|Enter)$/.test(e.key)) return;
    e.preventDefault();
    key(e.key);
  });
  root.querySelector(".keygrid")?.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-key]");
    if (b) key(b.dataset.key);
  });
  $("prev").addEventListener("click", () => load(state.event.prev_id));
  $("next").addEventListener("click", () => load(state.event.next_id));
  $("nextun").addEventListener("click", () => load(state.event.next_unreviewed_id));

  const first = JSON.parse(document.getElementById("initial").textContent);
  history.replaceState({ id: first.id }, "", `/events/${first.id}`);
  show(first);
})();
