// The re-ID embedder card on the Individuals page: what serves suggestions, each candidate
// with its last gate figures, and an admin's actions (train a projection, promote through
// the gate, roll back to the baseline). Every action queues a job (requests never compute);
// the card follows the job and redraws from GET /api/v1/individuals/embedder.
"use strict";
(function () {
  const root = document.getElementById("reid");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const admin = root.dataset.admin === "1";
  const API = "/api/v1/individuals/embedder";
  const num = (x) => (x === null || x === undefined ? "—" : Number(x).toFixed(3));
  let status = JSON.parse($("reid-status").textContent);

  function render() {
    const s = status.serving;
    $("reid-serving").innerHTML = `Serving: <strong>${esc(s.name)}</strong> (${esc(s.kind)}, vectors ${esc(s.embedder)})`;
    const base = status.baseline.gate;
    const rows = [`<tr data-kind="baseline"${s.kind === "baseline" ? ' class="serving"' : ""}><td>${esc(status.baseline.name)}${s.kind === "baseline" ? " · serving" : ""}</td><td>baseline</td><td>${num(base && base.top1)}</td><td>${num(base && base.top5)}</td><td></td><td></td><td></td></tr>`];
    for (const c of status.candidates) {
      const g = c.gate;
      const mine = g && g.challenger ? g.challenger : c.training_test;
      const against = g && g.against ? `${esc(g.against_name)} ${num(g.against.top1)}` : "";
      const interval = g && g.interval ? ` · Δ top-1 [${num(g.interval.low)}, ${num(g.interval.high)}]` : "";
      const action = admin && !c.serving ? `<button type="button" data-promote="${c.model_version_id}">Promote</button>` : "";
      rows.push(`<tr data-model="${c.model_version_id}"${c.serving ? ' class="serving"' : ""}><td>${esc(c.name)}${c.serving ? " · serving" : ""}</td><td>${esc(c.kind)}</td>` +
        `<td>${num(mine && mine.top1)}</td><td>${num(mine && mine.top5)}</td><td>${against}${interval}</td>` +
        `<td title="${esc(g ? g.reasons.join("; ") : "")}">${esc(g ? g.decision : "not gated")}</td><td>${action}</td></tr>`);
    }
    $("reid-candidates").querySelector("tbody").innerHTML = rows.join("");
    const back = $("reid-rollback");
    if (back) back.disabled = s.kind === "baseline";
  }

  async function refresh() {
    status = await wl.api("GET", API);
    render();
  }

  // Follow a queued job until it ends, then redraw the card.
  async function follow(jobId, what) {
    $("reid-job").textContent = `${what}: job ${jobId} queued`;
    root.dataset.job = String(jobId);
    for (;;) {
      const job = (await wl.api("GET", "/api/v1/jobs")).find((j) => j.id === jobId);
      if (!job) break;
      $("reid-job").textContent = `${what}: job ${jobId} ${job.state}${job.message ? " · " + job.message : ""}`;
      if (["succeeded", "failed", "cancelled"].includes(job.state)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await refresh();
  }

  async function act(call, what) {
    try {
      const answer = await call();
      wl.toast(`${what}: queued`, "good");
      if (answer && answer.job_id) await follow(answer.job_id, what);
      else await refresh();
    } catch (e) {
      wl.toast(e.message, "bad", 6000);
      $("reid-job").textContent = `${what}: ${e.message}`;
    }
  }

  root.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-promote]");
    if (!button) return;
    const reason = ($("reid-reason")?.value || "").trim();
    const body = { model: button.dataset.promote };
    if (reason) Object.assign(body, { force: true, reason });
    act(() => wl.api("POST", `${API}/promote`, body), `promote #${button.dataset.promote}`);
  });
  $("reid-train")?.addEventListener("submit", (e) => {
    e.preventDefault();
    act(() => wl.api("POST", `${API}/train`, { epochs: +$("reid-epochs").value }), "train a projection");
  });
  $("reid-rollback")?.addEventListener("click", () => {
    const expected = status.serving.model_version_id;
    act(() => wl.api("POST", `${API}/rollback`, expected ? { expected } : {}), "roll back");
  });
  render();
})();
