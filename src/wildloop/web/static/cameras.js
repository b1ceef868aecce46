// Location priors editor: one row per camera, saved with PUT /api/v1/cameras/{name}/priors.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("#priors button.save");
  if (!button) return;
  const row = button.closest("tr");
  const camera = row.dataset.camera;
  const allowed = [...row.querySelectorAll('input[name="allowed"]:checked')].map((i) => i.value);
  const rollup = row.querySelector('select[name="rollup"]').value || null;
  try {
    const saved = await wl.api("PUT", `/api/v1/cameras/${encodeURIComponent(camera)}/priors`,
      { allowed, rollup });
    wl.toast(`Saved ${camera}: ${(saved.allowed || ["any class"]).join(", ")}`, "ok");
  } catch (error) {
    wl.toast(`Refused: ${error.message}`, "error", 5000);
  }
});
