// Models page: the comparison arrives when computed, admin actions call the JSON API (gate,
// rollback, training, loop, two-stage pipelines and the fast loop), and training/loop jobs
// show live progress with their epoch curve.
"use strict";
(function () {
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const FLASH = "wildloop-models-flash";
  const KINDS = ["train", "loop", "predict"];

  // A message that survives the reload after a promotion or a rollback.
  const flash = document.getElementById("flash");
  const saved = sessionStorage.getItem(FLASH);
  if (saved && flash) {
    sessionStorage.removeItem(FLASH);
    flash.textContent = saved;
    flash.hidden = false;
    window.scrollTo(0, 0);
  }
  function reloadWith(message) {
    sessionStorage.setItem(FLASH, message);
    location.reload();
  }

  // Sections that change when evaluations or versions appear, taken from a fresh render of
  // the page (the actions card is left alone: it may hold a reason being typed).
  // The pipeline form's choices are refreshed too (new classifiers), keeping what is picked.
  const SECTIONS = ["champion-card", "challenger-card", "triggers", "registry-card", "retrain-log",
    "pipelines-list", "pipeline-detector", "pipeline-classifier"];
  async function refreshSections() {
    try {
      const response = await fetch("/models", { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok || response.redirected) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of SECTIONS) {
        const now = document.getElementById(id), next = fresh.getElementById(id);
        if (!now || !next) continue;
        if (now.tagName === "SELECT") {
          if (document.activeElement === now) continue;
          const picked = now.value;
          now.innerHTML = next.innerHTML;
          now.disabled = next.disabled;
          if ([...now.options].some((o) => o.value === picked)) now.value = picked;
        } else now.replaceWith(next);
      }
    } catch (e) { /* keep what is shown */ }
  }

  // --- the comparison: an HTML fragment, polled while it is computing ---
  let comparisonTimer = null;
  async function loadComparison(refresh) {
    clearTimeout(comparisonTimer);
    const box = document.getElementById("comparison");
    if (!box) return;
    try {
      const response = await fetch("/models/comparison" + (refresh ? "?refresh=1" : ""), {
        headers: { Accept: "text/html" }, credentials: "same-origin",
      });
      if (response.redirected) { location.reload(); return; }  // logged out meanwhile
      const was = box.dataset.state;
      box.outerHTML = await response.text();
      bindComparison();
      if (response.status === 202) comparisonTimer = setTimeout(() => loadComparison(false), 1500);
      else if (was === "computing") refreshSections();  // new evaluations: metrics, log, chart
    } catch (e) {
      comparisonTimer = setTimeout(() => loadComparison(false), 4000);
    }
  }
  function bindComparison() {
    document.querySelectorAll("#comparison [data-recompute]").forEach((b) =>
      b.addEventListener("click", () => loadComparison(true)));
  }
  bindComparison();
  if (document.getElementById("comparison")?.dataset.state === "computing") {
    comparisonTimer = setTimeout(() => loadComparison(false), 1500);
  }

  // --- actions (the buttons are disabled for non-admins; the API refuses them anyway) ---
  const result = document.getElementById("action-result");
  function show(kind, html, box = result) {
    box.className = "banner " + kind;
    box.innerHTML = html;
    box.hidden = false;
  }
  async function act(button, busy, run, box = result) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = busy;
    try {
      await run();
    } catch (e) {
      const what = e.status === 409 ? "Refused" : e.status === 403 ? "Not allowed" : "Error";
      show("", `<b>${what}:</b> ${esc(e.message)}`, box);
      if (e.status === 409) loadComparison(false);  // e.g. a new champion: compare with it
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }
  // A promotion is bound to the comparison on screen (its job): if the champion changed
  // since, the server refuses with 409 and the comparison has to be computed again.
  function promotion(extra) {
    const job = Number(document.getElementById("comparison")?.dataset.job) || null;
    return wl.api("POST", "/api/v1/promotion", { model: "challenger", comparison_job: job, ...extra });
  }
  function promoted(out) {
    if (out.state === "computing") {
      show("", "<b>The comparison is still being computed</b>; promote once its verdict is shown.");
      loadComparison(false);
      return;
    }
    if (out.promoted) {
      const name = out.comparison.challenger.model;
      reloadWith(`${name} is now champion` + (out.forced ? " (gate overridden; the reason is in the audit trail)" : " (the gate passed)") +
        (out.reprocess_job_id ? `; the archive is being reprocessed (job #${out.reprocess_job_id})` : ""));
      return;
    }
    show("", `<b>The gate refused the promotion</b>; the champion stays.<ul id="refusal">${out.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>` +
      '<span class="hint">An admin can force it with a reason, which is logged.</span>');
    loadComparison(false);
  }
  const promote = document.getElementById("promote");
  promote?.addEventListener("click", () => act(promote, "Running the gate…", async () =>
    promoted(await promotion({}))));

  const force = document.getElementById("force-form");
  force?.addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = force.reason.value;
    act(force.querySelector("button"), "Promoting…", async () =>
      promoted(await promotion({ force: true, reason })));
  });

  const rollback = document.getElementById("rollback-form");
  rollback?.addEventListener("submit", (e) => {
    e.preventDefault();
    act(rollback.querySelector("button"), "Rolling back…", async () => {
      const out = await wl.api("POST", "/api/v1/rollback", { reason: rollback.reason.value });
      reloadWith(`champion rolled back to ${out.champion}`);
    });
  });

  function overrides() {
    const epochs = parseInt(document.getElementById("epochs")?.value || "", 10);
    return Number.isFinite(epochs) ? { epochs } : {};
  }
  const train = document.getElementById("train-now");
  train?.addEventListener("click", () => act(train, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/training", overrides());
    show("info", `Training queued as job #${out.job_id} on ${esc(out.snapshot)}: ${esc(out.start.explanation || "")}. Progress shows below.`);
    pollJobs(true);
  }));
  const loop = document.getElementById("loop-now");
  loop?.addEventListener("click", () => act(loop, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/loop", overrides());
    show("info", `The loop is queued as job #${out.job_id}: snapshot, train, evaluate, gate, promote only if better, reprocess. Progress shows below.`);
    pollJobs(true);
  }));

  // --- two-stage: the crop classifier alone, the fast loop, and pairing two versions ---
  const trainClassifier = document.getElementById("train-classifier");
  trainClassifier?.addEventListener("click", () => act(trainClassifier, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/training/classifier", {});
    show("info", `Classifier training queued as job #${out.job_id} on ${esc(out.snapshot)}: crops of the reviewed boxes, then one fit; paired with the champion's detector as the challenger. Progress shows below.`);
    pollJobs(true);
  }));
  const fastLoop = document.getElementById("fast-loop");
  fastLoop?.addEventListener("click", () => act(fastLoop, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/loop", { stage: "classifier" });
    show("info", `The fast loop is queued as job #${out.job_id}: snapshot, train the classifier only, evaluate, gate, promote only if better, reprocess. Progress shows below.`);
    pollJobs(true);
  }));
  const pipelineForm = document.getElementById("pipeline-form");
  pipelineForm?.addEventListener("submit", (e) => {
    e.preventDefault();
    const field = (name) => pipelineForm.elements.namedItem(name);
    const handoff = field("handoff").value.split(",").map((c) => c.trim()).filter(Boolean);
    const body = {
      name: field("pipeline_name").value.trim(),
      detector: field("detector").value,
      classifier: field("classifier").value,
      min_box_score: Number(field("min_box_score").value),
    };
    if (handoff.length) body.handoff = handoff;
    act(pipelineForm.querySelector("button"), "Creating…", async () => {
      const out = await wl.api("POST", "/api/v1/pipelines", body);
      reloadWith(`pipeline ${out.name} (id ${out.id}) created: detector ${out.params.detector} + classifier ${out.params.classifier}; promote it through the gate like any version`);
    }, document.getElementById("pipeline-result"));
  });

  const computeThresholds = document.getElementById("compute-thresholds");
  computeThresholds?.addEventListener("click", () => act(computeThresholds, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/thresholds", { model: "champion" });
    show("info", `Thresholds queued as job #${out.job_id}; reload the page when it is done.`);
  }));
  const applyThresholds = document.getElementById("apply-thresholds");
  applyThresholds?.addEventListener("click", () => act(applyThresholds, "Applying…", async () => {
    const out = await wl.api("POST", "/api/v1/thresholds/apply", { model: "champion" });
    reloadWith(`class thresholds of ${out.model} applied (set ${out.threshold_set_id}; audited)`);
  }));

  const shadowForm = document.getElementById("shadow-form");
  const shadowResult = document.getElementById("shadow-result");
  shadowForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    const share = Number(shadowForm.querySelector('input[name="share"]').value);
    act(shadowForm.querySelector('button[type="submit"]'), "Saving…", async () => {
      const out = await wl.api("PUT", "/api/v1/shadow", { share });
      reloadWith(`shadow share set to ${Math.round(out.share * 1000) / 10}% of new items (audited)`);
    }, shadowResult);
  });
  const shadowRun = document.getElementById("shadow-run");
  shadowRun?.addEventListener("click", () => act(shadowRun, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/shadow/run", {});
    show("info", out.job_id ? `Shadow run of ${out.items} items queued as job #${out.job_id} (background)` : "The share selects none of the recent items.", shadowResult);
  }, shadowResult));
  const shadowRefresh = document.getElementById("shadow-refresh");
  shadowRefresh?.addEventListener("click", () => act(shadowRefresh, "Queueing…", async () => {
    const out = await wl.api("POST", "/api/v1/shadow/refresh", {});
    show("info", `Agreement job #${out.job_id} queued; reload the page when it is done.`, shadowResult);
  }, shadowResult));

  // --- live jobs and the epoch curve of the training in progress ---
  const live = document.getElementById("live-jobs");
  const curve = document.getElementById("epochs-table");
  let seen = new Set();
  let finished = [];  // jobs that ended while the page was open
  let timer = null;
  function eta(s) {
    if (s == null) return "";
    return s < 90 ? ` · ${Math.round(s)} s left` : s < 5400 ? ` · ${Math.round(s / 60)} min left` : ` · ${(s / 3600).toFixed(1)} h left`;
  }
  function renderJobs(jobs, finished) {
    const rows = jobs.map((j) => `
      <div class="job state-${esc(j.state)}"><div class="jobhead"><b>#${j.id} ${esc(j.kind)}</b> <span class="state">${esc(j.state)}</span></div>
      <div class="bar"><span style="width:${j.percent || 0}%"></span></div>
      <div class="sub">${j.done}${j.total ? " / " + j.total : ""}${eta(j.eta_seconds)}${j.message ? " · " + esc(j.message) : ""}</div></div>`).join("");
    const done = finished.length
      ? `<p class="banner info">Job${finished.length > 1 ? "s" : ""} ${finished.map((id) => "#" + id).join(", ")} finished; the registry and the comparison below are updated (<a href="/models">reload</a> for everything).</p>`
      : "";
    live.innerHTML = done + (rows || '<p class="hint">Nothing running.</p>');
  }
  function sparkline(values) {
    if (values.length < 2) return "";
    const max = Math.max(...values, 1e-9), w = 160, h = 36;
    const pts = values.map((v, i) => `${(i / (values.length - 1)) * w},${h - (v / max) * h}`).join(" ");
    return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"><polyline points="${pts}"/></svg>`;
  }
  function renderCurve(status) {
    if (status && status.params && status.params.task === "crop-classifier") {
      // No epochs: the boxes are cut and embedded (the bar above), then one fit.
      curve.innerHTML = `<p class="hint">Crop classifier training #${status.id}: ${esc(status.message || "queued")}</p>`;
      curve.dataset.classifier = "1";  // a passing line: cleared once the training ends
      return;
    }
    const points = (status && status.result && status.result.curves) || [];
    if (!points.length) {
      curve.innerHTML = status ? '<p class="hint">Waiting for the first epoch…</p>' : "";
      return;
    }
    const keys = Object.keys(points[points.length - 1]).filter((k) => k !== "epoch")
      .sort((a, b) => (a.startsWith("val") - b.startsWith("val")) || a.localeCompare(b));
    const label = (k) => k.replace("train/", "").replace("val_", "val ").replace("map50_95", "mAP50-95").replace("map50", "mAP50");
    const rows = points.slice(-12).map((p) => `<tr><td>${p.epoch}</td>${keys.map((k) => `<td class="n">${p[k] == null ? "–" : Number(p[k]).toFixed(3)}</td>`).join("")}</tr>`).join("");
    curve.innerHTML = `<h3>Training job #${status.id}: per-epoch losses and validation mAP</h3>
      <div class="row">val mAP50-95 ${sparkline(points.map((p) => p.val_map50_95 || 0))} box loss ${sparkline(points.map((p) => p["train/box_loss"] || 0))}</div>
      <table class="list metrics"><thead><tr><th>epoch</th>${keys.map((k) => `<th>${esc(label(k))}</th>`).join("")}</tr></thead><tbody>${rows}</tbody></table>`;
  }
  async function pollJobs(now) {
    clearTimeout(timer);
    if (now || document.visibilityState === "visible") {
      try {
        const jobs = (await wl.api("GET", "/api/v1/jobs?active=true")).filter((j) => KINDS.includes(j.kind));
        const ended = [...seen].filter((id) => !jobs.some((j) => j.id === id));
        finished = finished.concat(ended);
        seen = new Set(jobs.map((j) => j.id));
        renderJobs(jobs, finished);
        if (ended.length) { refreshSections(); loadComparison(false); }  // a new challenger?
        if (jobs.some((j) => j.kind === "train")) renderCurve(await wl.api("GET", "/api/v1/training"));
        else if (curve.dataset.classifier) { curve.innerHTML = ""; delete curve.dataset.classifier; }
      } catch (e) { /* keep the last view */ }
    }
    timer = setTimeout(() => pollJobs(false), 2000);
  }
  if (live) pollJobs(true);
})();
