"use strict";
// The compare page (`tchinfo compare A B … --format html`): the models on one scale — bars of where
// their parameters sit by role, treemaps whose areas compare as their parameter counts do — and the
// text report's rows side by side. Reads the tchinfo/compare document (each model with its modules).

/** A model's parameters by colour key, from its treemap boxes (so bars and treemaps agree), largest
 *  key first; a document without modules falls back on its params_by_kind. */
function paramsByKey(doc) {
  const root = treemapTree(doc.modules || []);
  if (!root) return doc.params_by_role.map((r) => [r.name, num(r.params)]);
  const totals = new Map();
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node.children.length === 0) {
      if (node.value > 0) totals.set(boxKey(node), (totals.get(boxKey(node)) || 0) + node.value);
    } else {
      stack.push(...node.children);
    }
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

/** Horizontal bars, one per model, all on the scale of the largest model. */
function kindBars(doc) {
  const models = doc.models;
  const largest = Math.max(1, ...models.map((m) => num(m.totals.params)));
  const [left, width, rowHeight, top] = [170, 700, 34, 28];
  const height = top + rowHeight * models.length + 8;
  const scale = (v) => (v / largest) * width;
  const svg = s("svg", { class: "bars", id: "kind-bars", viewBox: `0 0 ${left + width + 110} ${height}`, role: "img",
    "aria-label": "parameters by kind, one scale" });
  const ticks = niceTicks(largest, 5).filter((t) => t <= largest * 1.0001);
  for (const t of ticks) {
    svg.append(s("line", { class: "grid", x1: left + scale(t), x2: left + scale(t), y1: top - 6, y2: height - 4 }));
    svg.append(s("text", { class: "tick", x: left + scale(t), y: top - 10, "text-anchor": "middle" }, countTick(t)));
  }
  const keys = new Set();
  models.forEach((m, i) => {
    const y = top + i * rowHeight;
    svg.append(s("text", { class: "bar-label", x: left - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end" },
      fit(m.model, left - 12)));
    let x = left;
    for (const [key, params] of paramsByKey(m)) {
      keys.add(key);
      const w = scale(params);
      svg.append(s("rect", { class: "segment", x, y: y + 4, width: w, height: rowHeight - 10, fill: colourOf(key),
        "data-model": i, "data-key-name": key, "data-params": params },
        s("title", {}, `${m.model}: ${key} ${thousands(params)} params`)));
      x += w;
    }
    svg.append(svgFigure(doc, `models/${i}/totals/params`, "int",
      { class: "bar-total", x: x + 6, y: y + rowHeight / 2 + 4 }));
  });
  return [svg, h("div", { class: "legend" }, [...keys].map((k) => h("span", { class: "legend-item" }, swatch(k), String(k))))];
}

/** Treemaps whose areas are in proportion to the models' parameters. */
function scaledTreemaps(doc) {
  const largest = Math.max(1, ...doc.models.map((m) => num(m.totals.params)));
  const columns = Math.min(doc.models.length, 3);
  const fullWidth = columns === 1 ? 900 : Math.floor(900 / columns) - 12;
  const fullHeight = Math.round(fullWidth * 0.72);
  return h("div", { class: "scaled" }, doc.models.map((m, i) => {
    const ratio = Math.sqrt(num(m.totals.params) / largest);
    const [w, hgt] = [fullWidth * ratio, fullHeight * ratio];
    const map = new Treemap(m, [w, hgt], `treemap of ${m.model}, drawn to scale`, true);
    map.svg.setAttribute("width", String(w));
    map.svg.setAttribute("height", String(hgt));
    map.svg.setAttribute("data-index", String(i));
    map.svg.classList.add("to-scale");
    return h("figure", { class: "scaled-item" }, map.element,
      h("figcaption", {}, h("strong", {}, m.model), " — ", figure(doc, `models/${i}/totals/params`, "int"), " params"));
  }));
}

/** The rows of the text comparison (reports/compare.rs), one cell per model. */
function compareRows(doc) {
  const models = doc.models;
  const rows = [];
  const row = (label, cell) => rows.push([label, ...models.map((m, i) => cell(m, i))]);
  const share = (i, key, shareKey) =>
    h("span", {}, figure(doc, `models/${i}/${key}`, "int"), " (", figure(doc, `models/${i}/${shareKey}`, "pct1"), ")");
  row("Class", (m, i) => figure(doc, `models/${i}/root_type`, "text"));
  row("Total params", (m, i) => figure(doc, `models/${i}/totals/params`, "int"));
  row("Trainable params", (m, i) => figure(doc, `models/${i}/totals/trainable_params`, "int"));
  row("Buffers", (m, i) => figure(doc, `models/${i}/totals/buffers`, "int"));
  row("Layers with parameters", (m) => thousands(m.params_by_role.reduce((n, r) => n + num(r.layers), 0)));
  // The roles any of the models has, in the order the text report lists them.
  const roles = Object.keys(ROLE_NAMES).filter((key) => models.some((m) => m.params_by_role.some((r) => r.role === key)));
  for (const role of roles) {
    row(h("span", { class: "indent" }, swatch(roleName(role)), ` ${roleName(role)}`), (m, i) => {
      const at = m.params_by_role.findIndex((r) => r.role === role);
      return at < 0 ? "0 (0.0%)" : share(i, `params_by_role/${at}/params`, `params_by_role/${at}/share`);
    });
  }
  row("Head", (m, i) => figure(doc, `models/${i}/head/description`, "text"));
  row(h("span", { class: "indent" }, "head params"), (m, i) => share(i, "head/params", "head/share"));
  row("Largest layer", (m) => {
    const l = m.largest_layers[0];
    return l ? `${l.paper_name ? `${l.paper_name} ` : ""}${l.path} ${l.type}` : "--";
  });
  row(h("span", { class: "indent" }, "its params"), (m, i) =>
    m.largest_layers.length > 0 ? share(i, "largest_layers/0/params", "largest_layers/0/share") : "--");
  row("Input", (m) => (m.inputs.length > 0 ? m.inputs.map((v) => v.shape.map(String).join("×")).join(", ") : "--"));
  if (models.some((m) => m.totals.op_mult_adds !== null && m.totals.op_mult_adds !== undefined)) {
    row("Mult-adds (operators)", (m, i) => figure(doc, `models/${i}/totals/op_mult_adds`, "si"));
  }
  row("Mult-adds (torchinfo)", (m, i) => figure(doc, `models/${i}/totals/mult_adds`, "si"));
  row("Weights, float32", (m, i) => figure(doc, `models/${i}/memory/weights_float32_bytes`, "binary"));
  row("Adam: weights + momentum + variance (×3)", (m, i) =>
    figure(doc, `models/${i}/memory/adam_weights_momentum_variance_bytes`, "binary"));
  row("Full training: Adam + gradients (×4)", (m, i) =>
    figure(doc, `models/${i}/memory/adam_with_gradients_bytes`, "binary"));
  row("Activations ×2 (torchinfo)", (m, i) =>
    m.memory.activations ? figure(doc, `models/${i}/memory/activations/torchinfo_forward_backward_bytes`, "binary") : "--");
  return simpleTable(["", ...models.map((m) => m.model)], rows, [false, ...models.map(() => true)], { id: "comparison" });
}

function renderCompare(doc) {
  const names = doc.models.map((m) => m.model).join(" vs ");
  return [
    h("header", {}, h("h1", {}, names),
      h("p", { class: "sub" }, `${doc.models.length} models compared · KiB, MiB, GiB are powers of 2^10 bytes`)),
    section("Where the parameters sit, on one scale", ...kindBars(doc)),
    section("The module trees, drawn to scale",
      h("p", { class: "muted" }, "Each treemap's area is in proportion to its model's parameters. Hover for details; click to zoom."),
      scaledTreemaps(doc)),
    section("Side by side", h("div", { class: "table-scroll" }, compareRows(doc))),
  ];
}
