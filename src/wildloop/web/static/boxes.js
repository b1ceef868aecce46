// Box layer of the review screen: draws model predictions and the working (human) boxes on
// an SVG over the photo, and lets the mouse draw, select, move, resize boxes.
// Coordinates are normalised (0..1, top-left x,y plus w,h), as everywhere in wildloop.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const MIN_SIZE = 0.004;

  class BoxEditor {
    constructor(svg, { canEdit, onChange, onSelect, currentClass }) {
      this.svg = svg;
      this.canEdit = canEdit;
      this.onChange = onChange;
      this.onSelect = onSelect;
      this.currentClass = currentClass;
      this.predictions = [];
      this.boxes = [];
      this.selected = null;
      this.drag = null;
      this.size = { w: 1, h: 1 };
      if (canEdit) {
        svg.addEventListener("pointerdown", (e) => this.down(e));
        svg.addEventListener("pointermove", (e) => this.move(e));
        svg.addEventListener("pointerup", (e) => this.up(e));
        svg.addEventListener("pointercancel", () => { this.drag = null; this.render(); });
      }
    }

    set(predictions, boxes, size) {
      this.predictions = predictions;
      this.boxes = boxes;
      this.selected = null;
      this.size = size;
      this.svg.setAttribute("viewBox", `0 0 ${size.w} ${size.h}`);
      this.render();
    }

    point(e) {
      const r = this.svg.getBoundingClientRect();
      return {
        x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
        y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)),
      };
    }

    down(e) {
      if (e.button !== 0) return;
      const p = this.point(e);
      const handle = e.target.dataset.handle;
      const index = e.target.dataset.index;
      if (handle !== undefined && this.selected !== null) {
        this.drag = { kind: "resize", corner: +handle, start: p, orig: { ...this.boxes[this.selected] } };
      } else if (index !== undefined) {
        this.select(+index);
        this.drag = { kind: "move", start: p, orig: { ...this.boxes[+index] }, moved: false };
      } else {
        this.select(null);
        this.drag = { kind: "draw", start: p, box: { x: p.x, y: p.y, w: 0, h: 0 } };
      }
      this.svg.setPointerCapture(e.pointerId);
      e.preventDefault();
    }

    move(e) {
      if (!this.drag) return;
      const p = this.point(e);
      const d = this.drag;
      if (d.kind === "draw") {
        d.box = { x: Math.min(p.x, d.start.x), y: Math.min(p.y, d.start.y), w: Math.abs(p.x - d.start.x), h: Math.abs(p.y - d.start.y) };
      } else if (d.kind === "move") {
        const b = this.boxes[this.selected];
        const o = d.orig;
        b.x = Math.min(1 - o.w, Math.max(0, o.x + p.x - d.start.x));
        b.y = Math.min(1 - o.h, Math.max(0, o.y + p.y - d.start.y));
        d.moved = d.moved || Math.abs(p.x - d.start.x) + Math.abs(p.y - d.start.y) > 0.002;
      } else if (d.kind === "resize") {
        const o = d.orig;
        let x0 = o.x, y0 = o.y, x1 = o.x + o.w, y1 = o.y + o.h;
        if (d.corner === 0 || d.corner === 3) x0 = p.x; else x1 = p.x;
        if (d.corner === 0 || d.corner === 1) y0 = p.y; else y1 = p.y;
        Object.assign(this.boxes[this.selected], {
          x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0),
        });
      }
      this.render();
    }

    up(e) {
      const d = this.drag;
      this.drag = null;
      if (!d) return;
      if (d.kind === "draw") {
        if (d.box.w >= MIN_SIZE && d.box.h >= MIN_SIZE) {
          this.boxes.push({ ...d.box, class: this.currentClass(), prediction_id: null, invalid_reason: null, missed: true, proposal: false, edited: true });
          this.select(this.boxes.length - 1);
          this.onChange("draw");
        }
      } else if (d.kind === "resize" || (d.kind === "move" && d.moved)) {
        const b = this.boxes[this.selected];
        if (b.w < MIN_SIZE || b.h < MIN_SIZE) Object.assign(b, d.orig);
        b.proposal = false;
        b.edited = true;
        this.onChange(d.kind);
      }
      this.render();
    }

    select(index) {
      this.selected = index;
      this.onSelect(index);
      this.render();
    }

    cycle() {
      if (!this.boxes.length) return;
      this.select(this.selected === null ? 0 : (this.selected + 1) % this.boxes.length);
    }

    deleteSelected() {
      if (this.selected === null) return false;
      this.boxes.splice(this.selected, 1);
      this.select(null);
      this.onChange("delete");
      return true;
    }

    render() {
      const svg = this.svg;
      const W = this.size.w, H = this.size.h;
      const rect = svg.getBoundingClientRect();
      const unit = rect.width ? W / rect.width : 1; // viewBox units per screen pixel
      svg.replaceChildren();
      const used = new Set(this.boxes.map((b) => b.prediction_id).filter((id) => id !== null));
      for (const p of this.predictions) {
        if (!p.box || used.has(p.id)) continue;
        this.rect(p.box, `bx pred${p.shown ? "" : " below"}`, W, H);
        if (p.shown) this.label(p.box, `${p["class"]} ${p.score.toFixed(2)}`, "pred", W, H, unit);
      }
      for (const f of this.falsePositives || []) {
        this.rect(f.box, "bx fp", W, H);
        this.label(f.box, "false positive", "invalid", W, H, unit);
      }
      this.boxes.forEach((b, i) => {
        const kind = b.invalid_reason ? "invalid" : b.proposal ? "proposal" : b.missed ? "missed" : "work";
        const r = this.rect(b, `bx work ${kind}${i === this.selected ? " sel" : ""}`, W, H);
        r.dataset.index = i;
        if (this.canEdit) r.style.cursor = "move";
        const score = b.proposal && b.score != null ? ` ${b.score.toFixed(2)}` : "";
        const reason = b.invalid_reason ? ` ✗ ${b.invalid_reason.replace("_", " ")}` : "";
        this.label(b, `${i + 1}. ${b.class || "?"}${score}${reason}`, kind, W, H, unit);
      });
      const d = this.drag;
      if (d && d.kind === "draw") this.rect(d.box, "bx work missed sel", W, H);
      if (this.canEdit && this.selected !== null && this.boxes[this.selected]) {
        const b = this.boxes[this.selected];
        const s = 7 * unit;
        [[b.x, b.y], [b.x + b.w, b.y], [b.x + b.w, b.y + b.h], [b.x, b.y + b.h]].forEach(([x, y], corner) => {
          const h = document.createElementNS(NS, "rect");
          h.setAttribute("x", x * W - s / 2);
          h.setAttribute("y", y * H - s / 2);
          h.setAttribute("width", s);
          h.setAttribute("height", s);
          h.setAttribute("class", "handle");
          h.dataset.handle = corner;
          svg.appendChild(h);
        });
      }
    }

    rect(b, cls, W, H) {
      const r = document.createElementNS(NS, "rect");
      r.setAttribute("x", b.x * W);
      r.setAttribute("y", b.y * H);
      r.setAttribute("width", Math.max(b.w * W, 1));
      r.setAttribute("height", Math.max(b.h * H, 1));
      r.setAttribute("class", cls);
      this.svg.appendChild(r);
      return r;
    }

    label(b, text, cls, W, H, unit) {
      const t = document.createElementNS(NS, "text");
      t.setAttribute("x", b.x * W + 3 * unit);
      t.setAttribute("y", Math.max(b.y * H - 4 * unit, 13 * unit));
      t.setAttribute("class", `bxlabel ${cls}`);
      t.style.fontSize = `${13 * unit}px`;
      t.style.strokeWidth = `${3 * unit}px`;
      t.textContent = text;
      this.svg.appendChild(t);
    }
  }

  window.BoxEditor = BoxEditor;
})();
