// Live job progress on the dashboard: poll the jobs endpoint while the page is visible.
"use strict";
(function () {
  const box = document.getElementById("jobs");
  if (!box) return;
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  function eta(s) {
    if (s == null) return "";
    if (s < 90) return ` · ${Math.round(s)} s left`;
    if (s < 5400) return ` · ${Math.round(s / 60)} min left`;
    return ` · ${(s / 3600).toFixed(1)} h left`;
  }
  function render(jobs) {
    if (!jobs.length) { box.innerHTML = '<p class="hint">No jobs yet.</p>'; return; }
    box.innerHTML = jobs.map((j) => `
      <div class="job state-${esc(j.state)}"><div class="jobhead"><b>#${j.id} ${esc(j.kind)}</b> <span class="state">${esc(j.state)}</span></div>
      <div class="bar"><span style="width:${j.percent || 0}%"></span></div>
      <div class="sub">${j.done}${j.total ? " / " + j.total : ""}${j.percent != null ? " (" + j.percent + "%)" : ""}${j.rate ? " · " + j.rate.toFixed(1) + "/s" : ""}${eta(j.eta_seconds)}${j.message ? " · " + esc(j.message) : ""}${j.error ? ' <span class="error">' + esc(j.error) + "</span>" : ""}</div></div>`).join("");
  }
  async function poll() {
    if (document.visibilityState === "visible") {
      try { render(await wl.api("GET", box.dataset.poll)); } catch (e) { /* keep the last view */ }
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);

  // One action for the whole loop; its job shows in the list above like any other.
  const loopButton = document.getElementById("run-loop");
  if (loopButton) {
    loopButton.addEventListener("click", async () => {
      loopButton.disabled = true;
      try {
        const out = await wl.api("POST", "/api/v1/loop", {});
        wl.toast(`loop queued as job #${out.job_id}: train, score, promote only if better`, "ok", 4000);
      } catch (e) {
        wl.toast(e.message, "error", 6000);
      } finally {
        loopButton.disabled = false;
      }
    });
  }
})();
