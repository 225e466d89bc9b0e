"use strict";
// The treemap: the module tree as nested rectangles, area = parameters, colour = colourKey (the layer
// kind). Boxes tile their parent exactly (no padding, outlines drawn on top), so a box's share of the
// area is its share of the parameters: VGG-16's fc6 covers 74.27% of it. Click zooms into a subtree.

/** Treemap nodes from a summary document's modules (pre-order, each naming its children's paths).
 *  value = the subtree's parameters; a module with children and parameters of its own gets one more
 *  box for those, so the boxes add up to the total. Parameter-free subtrees have no box. */
function treemapTree(modules) {
  const at = new Map(modules.map((m, i) => [m.path, i]));
  const nodes = modules.map((m, i) => ({
    id: i, module: m, own: false, value: num(m.subtree_params), children: [], parent: null,
  }));
  for (const node of nodes) {
    for (const path of node.module.children) {
      const i = at.get(path);
      // Pre-order puts a child after its parent: anything else (a repeated path in a strange file) would
      // make a cycle, so it is left out.
      if (i === undefined || i <= node.id || nodes[i].parent !== null) continue;
      nodes[i].parent = node;
      if (nodes[i].value > 0) node.children.push(nodes[i]);
    }
    const own = num(node.module.own_params);
    if (node.module.children.length > 0 && own > 0) {
      node.children.push({
        id: nodes.length + node.id, module: node.module, own: true, value: own, children: [], parent: node,
      });
    }
    node.children.sort((a, b) => b.value - a.value);
  }
  return nodes.length > 0 ? nodes[0] : null;
}

/** Squarified layout (Bruls, Huizing, van Wijk): `values` (largest first) tile x,y,w,h in rows whose
 *  boxes are as close to square as the values allow. Returns one [x, y, w, h] per value. */
function squarify(values, x, y, w, h) {
  const total = values.reduce((a, v) => a + v, 0);
  const out = [];
  if (total <= 0) return values.map(() => [x, y, 0, 0]);
  const areas = values.map((v) => (v / total) * w * h);
  const worst = (sum, min, max, side) =>
    Math.max((side * side * max) / (sum * sum), (sum * sum) / (side * side * min));
  let i = 0;
  while (i < areas.length) {
    const side = Math.min(w, h);
    let sum = areas[i];
    let min = areas[i];
    let max = areas[i];
    let j = i + 1;
    while (j < areas.length) {
      const next = areas[j];
      const before = worst(sum, min, max, side);
      const after = worst(sum + next, Math.min(min, next), Math.max(max, next), side);
      if (after > before) break;
      sum += next;
      min = Math.min(min, next);
      max = Math.max(max, next);
      j += 1;
    }
    const last = j === areas.length;
    if (w >= h) {
      // A column on the left; the last row takes all that is left, so rounding leaves no gap.
      const cw = last ? w : sum / h;
      let yy = y;
      for (let k = i; k < j; k++) {
        const rh = k === j - 1 ? y + h - yy : areas[k] / cw;
        out.push([x, yy, cw, rh]);
        yy += rh;
      }
      x += cw;
      w -= cw;
    } else {
      const rh = last ? h : sum / w;
      let xx = x;
      for (let k = i; k < j; k++) {
        const cw = k === j - 1 ? x + w - xx : areas[k] / rh;
        out.push([xx, y, cw, rh]);
        xx += cw;
      }
      y += rh;
      h -= rh;
    }
    i = j;
  }
  return out;
}

/** The colour key of a box: the module's role (a container's own parameters have one too: a
 *  MultiheadAttention's in_proj_weight is attention); by kind, a container's own count as Other. */
function boxKey(node) {
  const key = colourKey(node.module);
  return key === "Container" ? "Other" : key;
}

/** What a box is called on the map: its paper name, else its path below `within` (the labelled block
 *  it is drawn in, or the zoomed-in module), so `layer4` holds `0.conv2`, not a truncated full path. */
function boxName(node, within) {
  const m = node.module;
  if (m.paper_name && !node.own) return m.paper_name;
  const prefix = within.module.path === "" ? "" : `${within.module.path}.`;
  let name = m.path.startsWith(prefix) ? m.path.slice(prefix.length) : m.path;
  if (name === "") name = m.type;
  return node.own ? `${name} (own)` : name;
}

/** Text cut to about `width` pixels at the labels' font size. */
function fit(text, width) {
  const chars = Math.floor(width / 6.6);
  if (chars < 2) return "";
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

/** A zoomable treemap of one summary document. `size` is [width, height] in SVG units. Unless `fixed`
 *  (compare draws to scale), it then follows its box's width, one SVG unit per pixel, so the labels keep
 *  their size on any screen. */
class Treemap {
  constructor(doc, size, label, fixed) {
    this.doc = doc;
    this.root = treemapTree(doc.modules || []);
    this.total = num(doc.totals.params);
    [this.width, this.height] = size;
    this.aspect = this.height / this.width;
    this.nodes = new Map();
    this.nav = h("nav", { class: "crumbs", "aria-label": "zoom" });
    this.svg = s("svg", {
      class: "treemap", viewBox: `0 0 ${this.width} ${this.height}`, role: "img",
      "aria-label": label, "data-model": doc.model, tabindex: "0",
    });
    this.element = h("div", { class: "treemap-box" }, this.nav, this.svg);
    this.svg.addEventListener("mousemove", (e) => this.hover(e));
    this.svg.addEventListener("mouseleave", () => hideTooltip());
    this.svg.addEventListener("click", (e) => this.click(e));
    this.svg.addEventListener("fit", () => this.fitWidth());
    this.svg.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.focus && this.focus.parent) this.zoom(this.focus.parent);
    });
    if (this.root && this.root.value > 0) {
      this.zoom(this.root);
      if (!fixed) new ResizeObserver(() => this.fitWidth()).observe(this.element);
    } else {
      this.svg.append(s("text", { x: 12, y: 24, class: "empty" }, "No parameters to draw."));
    }
  }

  /** Redraws at the box's width in pixels (the observer calls it, and so does the page once it is in
   *  the document, so the first picture already has the right size). */
  fitWidth() {
    const width = Math.round(this.element.clientWidth);
    if (!this.focus || width <= 0 || width === this.width) return;
    this.width = width;
    this.height = Math.round(width * this.aspect);
    this.svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    this.zoom(this.focus);
  }

  /** Draws `focus`'s subtree over the whole area. */
  zoom(focus) {
    this.focus = focus;
    hideTooltip();
    const leaves = s("g", { class: "boxes" });
    const outlines = s("g", { class: "outlines" });
    const labels = s("g", { class: "labels" });
    this.nodes.clear();
    // Each entry: a node, its rectangle, its depth below the focus, and the block its label is read in.
    const stack = [[focus, 0, 0, this.width, this.height, 0, focus]];
    while (stack.length > 0) {
      const [node, x, y, w, h, depth, within] = stack.pop();
      if (node.children.length === 0) {
        this.nodes.set(String(node.id), node);
        leaves.append(s("rect", {
          class: "box", x, y, width: w, height: h, fill: colourOf(boxKey(node)),
          "data-id": node.id, "data-path": node.module.path, "data-own": node.own ? "1" : null,
        }));
        this.leafLabel(labels, node, within, x, y, w, h);
        continue;
      }
      if (depth > 0) {
        outlines.append(s("rect", { class: `group depth${Math.min(depth, 3)}`, x, y, width: w, height: h }));
        if (depth === 1 && w > 40 && h > 18) {
          labels.append(s("text", { class: "group-label", x: x + 4, y: y + 13 }, fit(boxName(node, focus), w - 8)));
        }
      }
      const rects = squarify(node.children.map((c) => c.value), x, y, w, h);
      const block = depth === 1 ? node : within;
      node.children.forEach((child, i) => stack.push([child, ...rects[i], depth + 1, block]));
    }
    this.svg.replaceChildren(leaves, outlines, labels);
    this.crumbs();
  }

  leafLabel(labels, node, within, x, y, w, h) {
    if (w < 40 || h < 30) return;
    const cx = x + w / 2;
    const cy = y + h / 2;
    const share = fixed(percentOf(node.value, this.total), 2);
    // A big box gets a big name: the one that dominates the model should read at a glance.
    const big = w > 240 && h > 120;
    labels.append(s("text", { class: big ? "box-label big" : "box-label", x: cx, y: h >= 46 ? cy - 2 : cy + 4 },
      fit(boxName(node, within), big ? (w - 8) / 1.6 : w - 8)));
    if (h >= 46) {
      labels.append(s("text", { class: "box-share", x: cx, y: cy + (big ? 18 : 14) }, fit(`${node.module.type} · ${share}%`, w - 8)));
    }
  }

  /** Root › … › focus, each a button that zooms back out to it. */
  crumbs() {
    const chain = [];
    for (let n = this.focus; n; n = n.parent) chain.unshift(n);
    const parts = [];
    chain.forEach((node, i) => {
      if (i > 0) parts.push(h("span", { class: "sep", "aria-hidden": "true" }, "›"));
      const name = i === 0 ? this.doc.root_type : node.module.name;
      const current = node === this.focus;
      const button = h("button", { type: "button", class: "crumb", "aria-current": current ? "true" : null }, name);
      button.addEventListener("click", () => this.zoom(node));
      parts.push(button);
    });
    const hint = this.focus.parent ? "Esc or a name above zooms out" : "click a box to zoom in";
    parts.push(h("span", { class: "hint" }, hint));
    this.nav.replaceChildren(...parts);
  }

  nodeAt(event) {
    const box = event.target.closest ? event.target.closest("rect.box") : null;
    return box ? this.nodes.get(box.getAttribute("data-id")) : null;
  }

  /** Zooms into the child of the focus that holds the clicked box. */
  click(event) {
    let node = this.nodeAt(event);
    while (node && node.parent !== this.focus) node = node.parent;
    if (node && node.children.length > 0) this.zoom(node);
  }

  hover(event) {
    const node = this.nodeAt(event);
    if (!node) {
      hideTooltip();
      return;
    }
    const m = node.module;
    const lines = [
      h("strong", {}, node.own ? `${moduleLabel(m)} — its own parameters` : moduleLabel(m)),
      h("div", {}, `${m.type}${m.qualified_type && m.qualified_type !== m.type ? ` (${m.qualified_type})` : ""}`),
      h("div", {}, `${thousands(node.own ? m.own_params : m.subtree_params)} parameters · ` +
        `${fixed(percentOf(node.value, this.total), 2)}% of ${this.doc.model}`),
      h("div", {}, `output ${outputText(m)}`),
      h("div", { class: "muted" }, `colour: ${boxKey(node)}`),
    ];
    showTooltip(lines, event.clientX, event.clientY);
  }
}

// --------------------------------------------------------------------------------------------- tooltip

function showTooltip(lines, x, y) {
  const tip = document.getElementById("tooltip");
  tip.replaceChildren(...lines);
  tip.hidden = false;
  const pad = 14;
  const { width, height } = tip.getBoundingClientRect();
  const left = x + pad + width > window.innerWidth ? Math.max(0, x - pad - width) : x + pad;
  const top = y + pad + height > window.innerHeight ? Math.max(0, y - pad - height) : y + pad;
  tip.style.left = `${left}px`;
  tip.style.top = `${top}px`;
}

function hideTooltip() {
  const tip = document.getElementById("tooltip");
  if (tip) tip.hidden = true;
}

/** A legend of the colours in use, largest share first. */
function treemapLegend(root) {
  const totals = new Map();
  const stack = root ? [root] : [];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node.children.length === 0) {
      const key = boxKey(node);
      totals.set(key, (totals.get(key) || 0) + node.value);
    } else {
      stack.push(...node.children);
    }
  }
  const keys = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
  return h("div", { class: "legend" }, keys.map((k) => h("span", { class: "legend-item" }, swatch(k), String(k))));
}
