// The review screen: one key applies an action and moves on. Items load as JSON without a
// page reload; the next item and its image are fetched while you look at this one.
"use strict";
(function () {
  const root = document.getElementById("review");
  if (!root) return;
  const settings = JSON.parse(document.getElementById("settings").textContent);
  const classes = settings.classes;
  const query = root.dataset.query;
  const canWrite = root.dataset.canWrite === "1";
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const LABEL_ACTIONS = new Set(["accept", "set_class", "invalid", "empty", "note", "undo"]);
  const REASONS = { w: "wrong_species", r: "rear_end", q: "poor_quality" };

  const state = {
    detail: null, dirty: false, busy: false, burst: false, zoom: 1,
    undo: [], last: null, lastClass: classes[0], cache: new Map(),
    latest: new Map(), // media id -> the label revision our own last save produced
    // "next most valuable" mode: actions advance to the queue's top item, not the filter's next.
    valueMode: location.hash === "#value", reasons: new Map(),
  };
  const editor = new BoxEditor($("overlay"), {
    canEdit: canWrite,
    onChange: () => { state.dirty = true; renderBoxes(); },
    onSelect: () => renderBoxes(),
    currentClass: () => state.lastClass,
  });

  // --- loading -------------------------------------------------------------------------------

  function detailUrl(id) { return `/api/v1/media/${id}${query ? "?" + query : ""}`; }
  function pageUrl(id) { return `/media/${id}${query ? "?" + query : ""}${state.valueMode ? "#value" : ""}`; }

  async function nextValuable() {
    const here = state.detail ? `&exclude=${state.detail.id}` : "";
    try {
      const r = await wl.api("GET", `/api/v1/queue?limit=1${here}`);
      if (!r.items.length) {
        if (r.refreshing) wl.toast("the review order is being computed; try again in a moment");
        else wl.toast("nothing left to review", "good");
        return;
      }
      state.valueMode = true;
      state.reasons.set(r.items[0].media_id, r.items[0].reasons);
      return go(r.items[0].media_id);
    } catch (e) {
      banner(e.message);
    }
  }

  async function whyHere(d) {
    if (!state.valueMode || d.reviewed) { $("why").textContent = ""; return; }
    if (!state.reasons.has(d.id)) {
      // Opened from /queue or a reload: ask the queue why this item is on it.
      try {
        const r = await wl.api("GET", "/api/v1/queue?limit=500");
        for (const it of r.items) state.reasons.set(it.media_id, it.reasons);
      } catch (e) { return; }
    }
    const reasons = state.reasons.get(d.id) || [];
    if (state.detail && state.detail.id === d.id) {
      $("why").textContent = reasons.length ? `why: ${reasons.join("; ")}` : "why: nothing stands out";
    }
  }

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
      if (!id) continue;
      fetchDetail(id).then((n) => { new Image().src = n.image; }).catch(() => {});
    }
    if (state.cache.size > 40) state.cache.delete(state.cache.keys().next().value);
  }

  let warnedAt = 0;
  function leaving() {
    // Unsaved box edits are not dropped by a stray arrow key: the first press warns.
    if (!state.dirty || Date.now() - warnedAt < 3000) return true;
    warnedAt = Date.now();
    wl.toast("unsaved box edits: Enter or s saves, z discards, press again to leave", "bad", 3000);
    return false;
  }

  async function go(id, { fresh = false, push = true } = {}) {
    if (!id) return;
    try {
      const d = await fetchDetail(id, fresh);
      show(d);
      if (push) history.pushState({ id }, "", pageUrl(id));
      else history.replaceState({ id }, "", pageUrl(id));
    } catch (e) {
      banner(e.message);
    }
  }

  window.addEventListener("popstate", (e) => { if (e.state && e.state.id) go(e.state.id, { push: false }); });

  // --- showing one item ----------------------------------------------------------------------

  function show(d) {
    state.detail = d;
    state.dirty = false;
    const fps = (d.labels || []).filter((b) => b.false_positive);
    editor.falsePositives = fps;
    const size = { w: d.width || 1000, h: d.height || 750 };
    editor.set(d.predictions, workingBoxes(d), size);
    const img = $("photo");
    if (img.getAttribute("src") !== d.image) img.src = d.image;
    fit();
    $("title").textContent = `#${d.id}`;
    $("state").innerHTML = d.reviewed ? `<span class="ok">✓ reviewed</span> rev ${d.label_revision}` : "unreviewed";
    $("prev").disabled = !d.prev_id;
    $("next").disabled = !d.next_id;
    $("nextun").disabled = !d.next_unreviewed_id;
    $("modelname").textContent = d.model_name ? `${d.model_name}${d.has_prediction_set ? "" : " (not run on this item)"}` : "no model yet";
    $("modelname").title = madeWith(d.prediction_settings);
    $("auditlink").href = `/api/v1/media/${d.id}/history`;
    whyHere(d);
    renderFacts(d);
    renderBoxes();
    renderPredictions(d);
    renderStrip(d);
    renderHistory(d);
    loadReid(d);
    hideBanner();
    prefetch(d);
  }

  function workingBoxes(d) {
    if (d.labels) {
      return d.labels.filter((b) => !b.false_positive).map((b) => ({
        ...b.box, class: b["class"], prediction_id: b.prediction_id, invalid_reason: b.invalid_reason,
        missed: b.missed, proposal: false,
      }));
    }
    return d.predictions.filter((p) => p.shown && p.box).map((p) => ({
      ...p.box, class: p.known_class ? p["class"] : null, prediction_id: p.id, invalid_reason: null,
      missed: false, proposal: true, score: p.score,
    }));
  }

  function renderFacts(d) {
    const when = d.captured_at ? d.captured_at.replace("T", " ") : "unknown";
    const position = d.sequence.findIndex((f) => f.id === d.id) + 1;
    const frames = d.sequence.length ? `${position || "?"} of ${d.sequence.length}` : "—";
    const mark = d.marked ? `<span class="flag">${esc(d.marked.replace("_", " "))}</span>` : "—";
    const rows = [
      ["camera", esc(d.camera || "—")], ["captured", esc(when)], ["burst frame", frames],
      ["split", esc(d.split || "—")], ["label", d.reviewed ? esc(d.label_class || (d.empty ? "no animal" : "—")) : "—"],
      ["marked", mark], ["note", esc(d.note || "—")], ["file", esc(d.path.split("/").pop())],
    ];
    $("facts").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  }

  function renderBoxes() {
    const sel = editor.selected;
    const items = editor.boxes.map((b, i) => {
      const kind = b.proposal ? "model proposal" : b.missed ? "drawn" : "label";
      const reason = b.invalid_reason ? ` · invalid: ${esc(b.invalid_reason.replace("_", " "))}` : "";
      return `<li data-i="${i}" class="${i === sel ? "sel" : ""}">${esc(b.class || "? (pick a class)")} <span class="hint">${kind}${reason}</span></li>`;
    });
    $("boxes").innerHTML = items.join("") || `<li class="hint">${state.detail.reviewed ? "no animal" : "the model found nothing"}</li>`;
    $("boxhint").textContent = state.dirty ? "edited: Enter or s saves" : (editor.boxes.length ? "Tab selects" : "drag on the photo to draw");
    editor.render();
  }

  function renderPredictions(d) {
    $("preds").innerHTML = d.predictions.map((p) =>
      `<li class="${p.shown ? "" : "below"}">${esc(p["class"])} ${p.score.toFixed(2)}${p.known_class ? "" : " (not a project class)"}${p.shown ? "" : " · below threshold"}</li>`
    ).join("") || '<li class="hint">no predictions</li>';
  }

  function renderStrip(d) {
    $("strip").innerHTML = d.sequence.map((f) =>
      `<a href="${pageUrl(f.id)}" data-id="${f.id}" class="${f.id === d.id ? "current" : ""}" title="frame ${f.frame_num ?? ""}">
        <img src="/files/${f.id}/thumb?v=${(f.sha256 || "").slice(0, 12)}" alt="" loading="lazy">
        <span class="lbl ${f.reviewed ? "rev" : ""}">${f.reviewed ? "✓ " : ""}${esc(f["class"] || "")}</span></a>`
    ).join("") || '<span class="hint">not part of a burst</span>';
  }

  function renderHistory(d) {
    $("history").innerHTML = d.history.map((h) =>
      `<li>r${h.revision} · ${esc(h.author)} · ${esc(h.created_at.slice(0, 19).replace("T", " "))}${h.source === "unreview" ? " · undone to unreviewed" : ""}${h.empty ? " · no animal" : ""}${h.note ? " · “" + esc(h.note) + "”" : ""}</li>`
    ).join("") || '<li class="hint">never labelled</li>';
  }

  // --- zoom and layout -------------------------------------------------------------------------

  function fit() {
    const d = state.detail;
    const wrap = $("stagewrap");
    const w = d.width || 1000, h = d.height || 750;
    const scale = Math.min((wrap.clientWidth - 8) / w, (wrap.clientHeight - 8) / h) * state.zoom;
    const stage = $("stage");
    stage.style.width = `${Math.round(w * scale)}px`;
    stage.style.height = `${Math.round(h * scale)}px`;
    $("zoomval").textContent = `${Math.round(state.zoom * 100)}%`;
    editor.render();
  }

  function zoom(factor) {
    state.zoom = factor === 0 ? 1 : Math.min(8, Math.max(1, state.zoom * factor));
    fit();
    if (state.zoom > 1.01 && $("photo").getAttribute("src") !== state.detail.original) $("photo").src = state.detail.original;
  }

  window.addEventListener("resize", fit);
  $("stagewrap").addEventListener("wheel", (e) => {
    if (!e.ctrlKey && !e.altKey) return;
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1.25 : 0.8);
  }, { passive: false });

  // --- actions -------------------------------------------------------------------------------

  function banner(message, kind = "") {
    const b = $("banner");
    b.textContent = message;
    b.className = "banner " + kind;
    b.hidden = false;
  }
  function hideBanner() { $("banner").hidden = true; }

  async function send(method, url, body) {
    if (!canWrite) { wl.toast("read-only: viewers cannot change labels", "bad"); return null; }
    if (state.busy) return null;
    state.busy = true;
    try {
      return await wl.api(method, url, body);
    } catch (e) {
      if (e.status === 409) {
        const id = state.detail.id;
        await go(id, { fresh: true, push: false });
        banner(`Conflict: ${e.message}`);
      } else {
        banner(e.message);
      }
      return null;
    } finally {
      state.busy = false;
    }
  }

  function tally(add = 0) {
    const n = Number(sessionStorage.getItem("wl.saved") || 0) + add;
    sessionStorage.setItem("wl.saved", String(n));
    $("tally").textContent = n ? `${n} saved this session` : "";
  }

  function after(d, result, advance) {
    state.cache.delete(d.id);
    tally(1);
    if (advance && state.valueMode) return nextValuable();
    if (advance && d.next_id) return go(d.next_id);
    if (advance && !d.next_id) wl.toast("last item in this filter", "good");
    return go(d.id, { fresh: true, push: false });
  }

  async function act(payload, { advance = true } = {}) {
    const d = state.detail;
    if (state.dirty && ["accept", "set_class", "invalid", "note"].includes(payload.action)) {
      if (payload.action === "set_class") editor.boxes.forEach((b) => { b.class = payload.class; b.proposal = false; });
      if (payload.action === "invalid") editor.boxes.forEach((b) => { b.invalid_reason = payload.reason; b.proposal = false; });
      state.last = payload.action === "note" ? state.last : payload;
      return saveBoxes({ advance, note: payload.note });
    }
    if (state.dirty && ["mark", "unmark"].includes(payload.action)) {
      const saved = await saveBoxes({ advance: false });
      if (!saved) return;
      return act(payload, { advance });
    }
    const body = {
      ...payload, expected_revision: state.detail.label_revision, model_version_id: d.model_version_id,
      scope: state.burst ? "sequence" : "item",
    };
    const r = await send("POST", `/api/v1/media/${d.id}/actions`, body);
    if (!r) return;
    if (payload.action !== "note" && payload.action !== "undo") state.last = payload;
    const ids = state.burst ? r.applied : [d.id];
    state.latest.set(d.id, r.revision);
    if (LABEL_ACTIONS.has(payload.action)) state.undo.push({ kind: "labels", ids, revision: r.revision, id: d.id });
    else state.undo.push({ kind: "mark", ids, previous: d.marked, id: d.id });
    if (state.burst) {
      wl.toast(`applied to ${r.applied.length} frames of the burst${r.skipped.length ? `, skipped ${r.skipped.length}` : ""}`, "good");
      ids.forEach((i) => state.cache.delete(i));
      setBurst(false);
    }
    return after(d, r, advance);
  }

  async function saveBoxes({ advance = true, note } = {}) {
    const d = state.detail;
    const missing = editor.boxes.findIndex((b) => !b.class);
    if (missing !== -1) {
      editor.select(missing);
      banner("pick a class for the selected box (number keys) before saving");
      return;
    }
    const body = {
      expected_revision: d.label_revision, model_version_id: d.model_version_id,
      note: note !== undefined ? note : d.note,
      boxes: editor.boxes.map((b) => ({
        x: b.x, y: b.y, w: b.w, h: b.h, class: b.class, prediction_id: b.prediction_id,
        invalid_reason: b.invalid_reason, missed: !!b.missed,
      })),
    };
    const r = await send("PUT", `/api/v1/media/${d.id}/labels`, body);
    if (!r) return null;
    state.latest.set(d.id, r.revision);
    state.undo.push({ kind: "labels", ids: [d.id], revision: r.revision, id: d.id });
    await after(d, r, advance);
    return r;
  }

  async function undo() {
    if (state.dirty) { show(state.detail); wl.toast("edits discarded"); return; }
    const entry = state.undo.pop();
    if (!entry) { wl.toast("nothing to undo in this session"); return; }
    for (const id of entry.ids) {
      let body;
      if (entry.kind === "labels" && id === entry.id) {
        // Undo exactly the revision our action made; refused if someone saved since.
        body = { action: "undo", revision: entry.revision, expected_revision: state.latest.get(id) ?? entry.revision };
      } else if (entry.kind === "labels") body = { action: "undo" };
      else body = entry.previous ? { action: "mark", kind: entry.previous } : { action: "unmark" };
      const r = await send("POST", `/api/v1/media/${id}/actions`, body);
      if (!r) return;
      if (entry.kind === "labels") state.latest.set(id, r.revision);
      state.cache.delete(id);
    }
    await go(entry.id, { fresh: true, push: entry.id !== state.detail.id });
    wl.toast("undone", "good");
  }

  function changeSelected(change) {
    const b = editor.boxes[editor.selected];
    Object.assign(b, change, { proposal: false });
    if (change.class) state.lastClass = change.class;
    state.dirty = true;
    renderBoxes();
  }

  function setBurst(on) {
    state.burst = on;
    $("burst").hidden = !on;
  }

  // A class by name, for projects with more classes than number keys.
  function pickClass() {
    const box = $("picker"), input = $("pickinput"), list = $("picklist");
    let on = 0, shown = classes;
    const draw = () => {
      const q = input.value.trim().toLowerCase();
      shown = classes.filter((c) => c.toLowerCase().includes(q));
      on = Math.min(on, Math.max(0, shown.length - 1));
      list.innerHTML = shown.map((c, i) => `<li class="${i === on ? "on" : ""}" data-c="${esc(c)}">${esc(c)}</li>`).join("");
    };
    return new Promise((resolve) => {
      const done = (value) => {
        box.hidden = true;
        input.removeEventListener("keydown", keys);
        input.removeEventListener("input", draw);
        list.onclick = null;
        resolve(value);
      };
      const keys = (e) => {
        if (e.key === "ArrowDown") on = Math.min(on + 1, shown.length - 1);
        else if (e.key === "ArrowUp") on = Math.max(on - 1, 0);
        else if (e.key === "Enter") return done(shown[on] || null);
        else if (e.key === "Escape") return done(null);
        else return;
        e.preventDefault();
        draw();
      };
      input.value = "";
      box.hidden = false;
      draw();
      input.addEventListener("keydown", keys);
      input.addEventListener("input", draw);
      list.onclick = (e) => { const li = e.target.closest("li"); if (li) done(li.dataset.c); };
      input.focus();
    });
  }

  function applyClass(name) {
    state.lastClass = name;
    if (editor.selected !== null) return changeSelected({ class: name });
    return act({ action: "set_class", class: name });
  }

  function note() {
    const text = prompt("Note for this item (saved with the boxes shown):", state.detail.note || "");
    if (text !== null) act({ action: "note", note: text }, { advance: false });
  }

  // --- keys --------------------------------------------------------------------------------------

  function key(k, e) {
    const d = state.detail;
    const sel = editor.selected;
    if (["ArrowRight", "j", " ", "ArrowLeft", "k", "u", "g", "v"].includes(k) && !leaving()) return;
    if (k === "v") return nextValuable();
    if (k === "ArrowRight" || k === "j" || k === " ") return go(d.next_id);
    if (k === "ArrowLeft" || k === "k") return go(d.prev_id);
    if (k === "u") return go(d.next_unreviewed_id);
    if (k === "g") { location.href = $("back").href; return; }
    if (k === "+" || k === "=") return zoom(1.25);
    if (k === "-") return zoom(0.8);
    if (k === "0") return zoom(0);
    if (k === "Escape") { editor.select(null); hideBanner(); return; }
    if (k === "Tab") { editor.cycle(); return; }
    if (!canWrite) { if (/^[1-9cerwqmfMnzbs.]$/.test(k) || k === "Enter") wl.toast("read-only: viewers cannot change labels", "bad"); return; }
    if (/^[1-9]$/.test(k)) {
      const name = classes[+k - 1];
      return name ? applyClass(name) : undefined;
    }
    if (k === "c") return pickClass().then((name) => name && applyClass(name));
    if (REASONS[k]) {
      if (sel !== null) return changeSelected({ invalid_reason: REASONS[k] });
      return act({ action: "invalid", reason: REASONS[k] });
    }
    switch (k) {
      case "Enter": case "a": return state.dirty ? saveBoxes() : act({ action: "accept" });
      case "s": return saveBoxes({ advance: false });
      case "e": return act({ action: "empty" });
      case "m": return act({ action: "mark", kind: "missed" });
      case "f": return act({ action: "mark", kind: "false_positive" });
      case "M": return act({ action: "unmark" });
      case "n": return note();
      case "z": return undo();
      case ".": return state.last ? act(state.last) : wl.toast("no action to repeat yet");
      case "b": return setBurst(!state.burst);
      case "Delete": case "Backspace": case "d": if (!editor.deleteSelected()) wl.toast("select a box first (click it or Tab)"); return;
    }
  }

  document.addEventListener("keydown", (e) => {
    if (wl.typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const handled = /^[1-9]$|^[-+=0cejkugvadswrqmfMnzb. ]$|^(Arrow(Left|Right)|Enter|Escape|Tab|Delete|Backspace)$/.test(e.key);
    if (!handled) return;
    e.preventDefault();
    key(e.key, e);
  });

  document.querySelector(".keygrid")?.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-key]");
    if (b) key(b.dataset.key, e);
  });
  $("boxes").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-i]");
    if (li) editor.select(+li.dataset.i);
  });
  $("strip").addEventListener("click", (e) => {
    const a = e.target.closest("a[data-id]");
    if (!a) return;
    e.preventDefault();
    go(+a.dataset.id);
  });
  $("prev").addEventListener("click", () => go(state.detail.prev_id));
  $("next").addEventListener("click", () => go(state.detail.next_id));
  $("nextun").addEventListener("click", () => go(state.detail.next_unreviewed_id));
  $("nextvalue").addEventListener("click", () => nextValuable());
  $("zoomin").addEventListener("click", () => zoom(1.25));
  $("zoomout").addEventListener("click", () => zoom(0.8));
  $("photo").addEventListener("load", fit);

  // --- re-identification: confirm a box's individual with a number key -----------------------
  // When a box of this photo has a stored re-ID suggestion, the panel lists its candidates
  // 1..k and takes the number keys (before the class keys) until Esc; i arms it for the
  // selected box (else the first). A number confirms that individual (its burst track is suggested too), n
  // makes a new individual from the box.
  const reid = { boxes: [], armed: null, media: null };

  function reidBox() {
    const d = state.detail;
    const sel = editor.selected;
    const kept = (d.labels || []).filter((b) => !b.false_positive);
    const index = sel !== null && kept[sel] ? kept[sel].index : null;
    return reid.boxes.find((b) => b.index === index) || reid.boxes.find((b) => b.source === "suggestion") || reid.boxes[0] || null;
  }

  function renderReid() {
    const b = reid.armed;
    const panel = $("reid");
    panel.hidden = !reid.boxes.length;
    if (!reid.boxes.length) return;
    const owner = (x) => x.individual_id ? `${esc(x.individual_name)}${x.source === "suggestion" ? " (suggested)" : ""}` : "no individual";
    $("reidboxes").innerHTML = reid.boxes.map((x) => `<li class="${x === b ? "sel" : ""}">${esc(x["class"])}: ${owner(x)}</li>`).join("");
    $("reidlist").innerHTML = b ? b.candidates.map((c, i) =>
      `<li data-reid="${i + 1}"><kbd>${i + 1}</kbd> <a href="/individuals/${c.individual_id}" target="_blank">${esc(c.name)}</a> <span class="hint">${c.similarity.toFixed(2)}</span></li>`
    ).join("") + `<li><kbd>n</kbd> new individual <kbd>Esc</kbd> back to class keys</li>` : "";
    $("reidhint").textContent = b ? "number keys pick the individual" : (canWrite ? "i: pick the individual of the selected box" : "");
  }

  async function loadReid(d) {
    reid.media = d.id;
    reid.boxes = [];
    reid.armed = null;
    if (d.labels && d.labels.some((b) => !b.false_positive)) {
      try {
        const found = await wl.api("GET", `/api/v1/media/${d.id}/identities?k=5`);
        if (reid.media !== d.id) return;
        reid.boxes = found;
      } catch (e) { reid.boxes = []; }
    }
    reid.armed = canWrite ? reid.boxes.find((b) => b.source === "suggestion") || null : null;
    renderReid();
  }

  async function confirmReid(b, pick) {
    const to = pick.individual_id;
    try {
      if (b.sighting_id && b.individual_id !== to) {
        await wl.api("POST", `/api/v1/sightings/${b.sighting_id}/move`, { individual_id: to });
      }
      const r = await wl.api("POST", `/api/v1/individuals/${to}/sightings`, { label_box_id: b.label_box_id, track: "suggest" });
      const more = r.track_sightings.length ? ` (+${r.track_sightings.length} in its burst suggested)` : "";
      wl.toast(`box confirmed as ${pick.name}${more}`, "good");
    } catch (e) { banner(e.message); }
    return loadReid(state.detail);
  }

  async function newIndividual(b) {
    const name = prompt(`Name of the new ${b["class"]} individual:`, "");
    if (!name) return;
    try {
      const made = await wl.api("POST", "/api/v1/individuals", { name, class: b["class"] });
      if (b.sighting_id) await wl.api("DELETE", `/api/v1/sightings/${b.sighting_id}`);
      await wl.api("POST", `/api/v1/individuals/${made.id}/sightings`, { label_box_id: b.label_box_id, track: "suggest" });
      wl.toast(`new individual ${name}`, "good");
    } catch (e) { banner(e.message); }
    return loadReid(state.detail);
  }

  // Capture phase: while armed these keys are the panel's, not the class keys.
  document.addEventListener("keydown", (e) => {
    if (wl.typing(e) || e.ctrlKey || e.metaKey || e.altKey || !state.detail) return;
    if (e.key === "i" && canWrite && reid.boxes.length) {
      reid.armed = reidBox();
    } else if (reid.armed && e.key === "Escape") {
      reid.armed = null;
    } else if (reid.armed && e.key === "n") {
      newIndividual(reid.armed);
    } else if (reid.armed && /^[1-9]$/.test(e.key) && reid.armed.candidates[+e.key - 1]) {
      confirmReid(reid.armed, reid.armed.candidates[+e.key - 1]);
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    renderReid();
  }, true);
  $("reidlist").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-reid]");
    if (li && reid.armed && e.target.tagName !== "A") confirmReid(reid.armed, reid.armed.candidates[+li.dataset.reid - 1]);
  });
  // --- end of re-identification ----------------------------------------------------------------
  // --- events and "more like this" (keys E and x) ------------------------------------------
  // E opens the item's event (its burst, labelled with one key); x opens the frames whose
  // boxes look most like the selected box (or the item's best box) as a grid to batch-review.
  document.addEventListener("keydown", (e) => {
    if (wl.typing(e) || e.ctrlKey || e.metaKey || e.altKey || !["E", "x"].includes(e.key)) return;
    const d = state.detail;
    if (!leaving()) return;
    e.preventDefault();
    if (e.key === "E") {
      if (d.sequence_id) location.href = `/events/${d.sequence_id}`;
      else wl.toast("this item is not part of a burst");
      return;
    }
    const box = editor.selected !== null ? editor.boxes[editor.selected] : null;
    const pick = box && box.prediction_id ? `?prediction=${box.prediction_id}` : "";
    location.href = `/media/${d.id}/similar${pick}`;
  });

  const first = JSON.parse(document.getElementById("initial").textContent);
  history.replaceState({ id: first.id }, "", pageUrl(first.id));
  state.cache.set(first.id, Promise.resolve(first));
  show(first);
  tally();
})();

// What the shown prediction set was made with (priors, smoothing, store threshold).
function madeWith(s) {
  if (!s) return "settings not recorded for this prediction set";
  const priors = s.priors.mode === "soft" ? `soft x${s.priors.factor}` : s.priors.mode;
  const smoothing = s.smoothing.enabled ? `on (weak < ${s.smoothing.weak})` : "off";
  return `made with: priors ${priors}, smoothing ${smoothing}, store ${s.thresholds.store}`;
}
