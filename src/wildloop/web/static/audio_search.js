// Search by example from an uploaded clip: the file's bytes go to the API as they are, the
// nearest windows come back as tiles that open the window's review screen.
(() => {
  const form = document.getElementById("clip-search");
  const status = document.getElementById("clip-status");
  const results = document.getElementById("clip-results");
  const text = (tag, cls, value) => {
    const el = document.createElement(tag);
    el.className = cls;
    el.textContent = value;
    return el;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("clip-file").files[0];
    if (!file) return;
    const k = document.getElementById("clip-k").value || "30";
    status.textContent = "searching…";
    results.replaceChildren();
    const response = await fetch(`/api/v1/windows/similar-to-clip?k=${encodeURIComponent(k)}`, {
      method: "POST",
      headers: { "x-csrf-token": form.dataset.csrf, "content-type": "application/octet-stream" },
      body: file,
    });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = body.error ? body.error.message : `error ${response.status}`;
      return;
    }
    status.textContent = `${body.items.length} windows most like ${file.name} (${body.embedder} embeddings)`;
    for (const it of body.items) {
      const tile = document.createElement("a");
      tile.className = "tile wtile" + (it.reviewed ? " reviewed" : "");
      tile.href = `/audio/${it.id}`;
      const img = document.createElement("img");
      Object.assign(img, { src: it.spectrogram, loading: "lazy", alt: `window ${it.id}`, width: 300, height: 256 });
      const badges = document.createElement("span");
      badges.className = "badges";
      if (it.class_name) badges.append(text("span", "cls", it.class_name));
      badges.append(text("span", "sim", `≈ ${it.similarity.toFixed(2)}`));
      const meta = text("span", "meta", `${it.site || ""} · ${it.t_start.toFixed(1)}–${it.t_end.toFixed(1)} s`);
      tile.append(img, badges, meta);
      results.append(tile);
    }
  });
})();
