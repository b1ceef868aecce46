// The grid: keyboard moves, selection (Space, Shift+click ranges, Ctrl+click), batch actions
// on the selection or on everything in the filter, endless scrolling by keyset cursor.
"use strict";
(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;
  const query = grid.dataset.query;
  const canWrite = grid.dataset.canWrite === "1";
  const bar = document.getElementById("batchbar");
  const selCount = document.getElementById("selcount");
  const classes = [...document.querySelectorAll("[data-batch=set_class]")].map((b) => b.dataset.class);
  let next = grid.dataset.next;
  let focus = 0;
  let anchor = null;
  let allInFilter = false;
  let loading = false;
  let total = null;
  const selected = new Set();

  const tiles = () => [...grid.querySelectorAll(".tile")];

  function setFocus(i, scroll = true) {
    const list = tiles();
    if (!list.length) return;
    focus = Math.max(0, Math.min(i, list.length - 1));
    list.forEach((t, j) => t.classList.toggle("focus", j === focus));
    if (scroll) list[focus].scrollIntoView({ block: "nearest" });
    if (focus > list.length - 12) loadMore();
  }

  function columns() {
    const list = tiles();
    if (list.length < 2) return 1;
    const top = list[0].offsetTop;
    const n = list.findIndex((t) => t.offsetTop !== top);
    return n === -1 ? list.length : n;
  }

  function renderSelection() {
    tiles().forEach((t) => t.classList.toggle("selected", allInFilter || selected.has(+t.dataset.id)));
    const n = allInFilter ? (total === null ? "all" : total.toLocaleString()) : selected.size;
    bar.hidden = !allInFilter && selected.size === 0;
    selCount.textContent = allInFilter ? `${n} items in this filter selected` : `${n} selected`;
  }

  function toggle(tile) {
    allInFilter = false;
    const id = +tile.dataset.id;
    selected.has(id) ? selected.delete(id) : selected.add(id);
    anchor = tiles().indexOf(tile);
    renderSelection();
  }

  function range(tile) {
    allInFilter = false;
    const list = tiles();
    const to = list.indexOf(tile);
    const from = anchor === null ? to : anchor;
    for (let i = Math.min(from, to); i <= Math.max(from, to); i++) selected.add(+list[i].dataset.id);
    renderSelection();
  }

  function clearSelection() {
    selected.clear();
    allInFilter = false;
    renderSelection();
  }

  async function loadMore() {
    if (!next || loading) return;
    loading = true;
    try {
      const sep = query ? "&" : "";
      const response = await fetch(`${grid.dataset.tiles || "/grid/tiles"}?${query}${sep}cursor=${encodeURIComponent(next)}`, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      grid.insertAdjacentHTML("beforeend", await response.text());
      next = response.headers.get("X-Next-Cursor") || "";
      renderSelection();
    } catch (e) {
      wl.toast("could not load more: " + e.message, "bad");
    } finally {
      loading = false;
      document.getElementById("more").textContent = next ? "loading more…" : "";
    }
  }

  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "800px" }).observe(document.getElementById("more"));

  async function count() {
    const el = document.getElementById("count");
    try {
      const c = await wl.api("GET", `/api/v1/media/count${query ? "?" + query : ""}`);
      total = c.count;
      el.textContent = `${c.count.toLocaleString()}${c.capped ? "+" : ""} items`;
    } catch (e) { el.textContent = ""; }
  }

  function filterParams() {
    return Object.fromEntries(new URLSearchParams(query));
  }

  async function batch(action, extra = {}) {
    if (!canWrite || (!allInFilter && !selected.size)) return;
    const body = { action, ...extra };
    if (allInFilter) body.filter = filterParams(); else body.ids = [...selected];
    try {
      const r = await wl.api("POST", "/api/v1/batch", body);
      const skipped = r.skipped.length ? `, skipped ${r.skipped.length}: ${r.skipped[0].reason}` : "";
      wl.toast(`${action.replace("_", " ")}: applied to ${r.applied_count}${skipped}`, r.skipped.length ? "bad" : "good", 4000);
      updateTiles(r.applied, action, extra);
      clearSelection();
    } catch (e) {
      wl.toast(e.message, "bad", 5000);
    }
  }

  function updateTiles(ids, action, extra) {
    const done = new Set(ids);
    for (const t of tiles()) {
      if (!done.has(+t.dataset.id)) continue;
      const badges = t.querySelector(".badges");
      if (action === "mark" || action === "unmark") {
        t.classList.toggle("marked", action === "mark");
        badges.querySelector(".flag")?.remove();
        if (action === "mark") badges.insertAdjacentHTML("beforeend", `<span class="flag">${extra.kind === "missed" ? "MD" : "FP"}</span>`);
        continue;
      }
      t.classList.add("reviewed");
      const cls = badges.querySelector(".cls");
      if (cls) {
        cls.className = "cls src-human";
        if (action === "set_class") cls.textContent = extra.class;
        if (action === "empty") cls.textContent = "no animal";
        if (action === "accept") cls.textContent = cls.textContent.replace(/ [0-9.]+$/, "");
        if (action === "invalid") cls.textContent += " (invalid)";
      }
      if (!badges.querySelector(".ok")) badges.insertAdjacentHTML("beforeend", '<span class="ok">✓</span>');
    }
  }

  const batchKeys = {
    a: ["accept"], e: ["empty"], m: ["mark", { kind: "missed" }], f: ["mark", { kind: "false_positive" }],
    M: ["unmark"], w: ["invalid", { reason: "wrong_species" }], r: ["invalid", { reason: "rear_end" }],
    q: ["invalid", { reason: "poor_quality" }],
  };

  grid.addEventListener("click", (e) => {
    const tile = e.target.closest(".tile");
    if (!tile) return;
    if (e.shiftKey) { e.preventDefault(); range(tile); }
    else if (e.ctrlKey || e.metaKey) { e.preventDefault(); toggle(tile); }
    focus = tiles().indexOf(tile);
  });

  bar.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.id === "selnone") return clearSelection();
    const extra = {};
    if (b.dataset.class) extra.class = b.dataset.class;
    if (b.dataset.reason) extra.reason = b.dataset.reason;
    if (b.dataset.kind) extra.kind = b.dataset.kind;
    batch(b.dataset.batch, extra);
  });

  document.getElementById("selall").addEventListener("click", () => {
    allInFilter = true;
    selected.clear();
    renderSelection();
  });

  document.addEventListener("keydown", (e) => {
    if (wl.typing(e)) return;
    const list = tiles();
    const cols = columns();
    const k = e.key;
    if (k === "ArrowRight" || k === "l") setFocus(focus + 1);
    else if (k === "ArrowLeft" || k === "h") setFocus(focus - 1);
    else if (k === "ArrowDown" || k === "j") setFocus(focus + cols);
    else if (k === "ArrowUp" || k === "k") setFocus(focus - cols);
    else if (k === "Enter" || k === "o") { if (list[focus]) location.href = list[focus].href; }
    else if (k === " ") { if (list[focus]) { if (e.shiftKey) range(list[focus]); else toggle(list[focus]); } }
    else if (k === "a" && (e.ctrlKey || e.metaKey)) { list.forEach((t) => selected.add(+t.dataset.id)); allInFilter = false; renderSelection(); }
    else if (k === "Escape") clearSelection();
    else if (!e.ctrlKey && !e.metaKey && !e.altKey && (selected.size || allInFilter)) {
      if (/^[1-9]$/.test(k) && classes[+k - 1]) batch("set_class", { class: classes[+k - 1] });
      else if (batchKeys[k]) batch(...batchKeys[k]);
      else return;
    } else return;
    e.preventDefault();
  });

  setFocus(0, false);
  count();
})();
