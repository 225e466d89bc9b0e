"use strict";
// The summary page (`tchinfo summary MODEL --format html`): headline figures, the treemap beside where
// the parameters sit by kind, memory, the layer table and the notes — all read from the tchinfo/summary
// document, each figure tagged with the JSON path it shows.

/** `1×3×224×224 float32`, as the footer names an input. */
const inputText = (v) => `${v.shape.map(String).join("×")} ${v.dtype}`;

/** One headline figure: a label over a number. */
function card(doc, label, key, format, title) {
  return h("div", { class: "card", title: title || null }, h("div", { class: "card-label" }, label),
    figure(doc, key, format, { class: "figure card-value" }));
}

function summaryHeader(doc) {
  const t = doc.totals;
  const inputs = (doc.inputs || []).map(inputText).join(", ");
  const cards = [
    card(doc, "Total params", "totals/params", "int"),
    card(doc, "Trainable", "totals/trainable_params", "int"),
    card(doc, "Non-trainable", "totals/non_trainable_params", "int"),
    card(doc, "Buffers", "totals/buffers", "int", "running statistics and the like, not parameters"),
  ];
  // The operator count is the headline, as in the text footer; torchinfo's parameter-based one follows.
  if (t.op_mult_adds !== null && t.op_mult_adds !== undefined) {
    cards.push(card(doc, "Mult-adds (operators)", "totals/op_mult_adds", "si", exact(t.op_mult_adds, "mult-adds")));
  }
  cards.push(card(doc, "Mult-adds (torchinfo)", "totals/mult_adds", "si", exact(t.mult_adds, "mult-adds")));
  cards.push(card(doc, "Weights, float32", "memory/weights_float32_bytes", "binary",
    exact(doc.memory.weights_float32_bytes, "bytes")));
  return [
    h("header", {},
      h("h1", {}, doc.model),
      h("p", { class: "sub" }, `${doc.root_type} · ${doc.source}`,
        inputs ? ` · input ${inputs}` : " · no forward pass (output shapes and mult-adds unknown)")),
    h("div", { class: "cards" }, cards),
  ];
}

/** Where the parameters sit, by role, as the text footer lists them. */
function rolesTable(doc) {
  const rows = doc.params_by_role.map((r, i) => [
    h("span", {}, swatch(r.name), ` ${r.name}`),
    figure(doc, `params_by_role/${i}/params`, "int"),
    figure(doc, `params_by_role/${i}/share`, "pct1"),
    figure(doc, `params_by_role/${i}/layers`, "int"),
  ]);
  return simpleTable(["Role", "Params", "Share", "Layers"], rows, [false, true, true, true], { id: "roles" });
}

function largestTable(doc, count) {
  const rows = doc.largest_layers.slice(0, count).map((l, i) => [
    l.paper_name ? `${l.paper_name} (${l.path || "(root)"})` : l.path || "(root)",
    l.type,
    figure(doc, `largest_layers/${i}/params`, "int"),
    figure(doc, `largest_layers/${i}/share`, "pct1"),
  ]);
  return simpleTable(["Layer", "Type", "Params", "Share"], rows, [false, false, true, true], { id: "largest" });
}

function headLine(doc) {
  const head = doc.head;
  const layers = head.linear_layers.length > 0 ? ` (${head.linear_layers.join(", ")})` : "";
  return h("p", { id: "head" }, h("strong", {}, "Head: "), `${head.description}${layers}: `,
    figure(doc, "head/params", "int"), " params (", figure(doc, "head/share", "pct1"), ")");
}

/** Memory rows as the footer prints them: label, binary and decimal units. */
function memoryTable(doc) {
  const mem = doc.memory;
  const row = (label, key) => [label, figure(doc, key, "binary"), figure(doc, key, "decimal")];
  const rows = (doc.inputs || []).map((v, i) => row(`input ${inputText(v)}`, `inputs/${i}/bytes`));
  rows.push(row(`weights, float32 (${thousands(doc.totals.params)} × 4 B)`, "memory/weights_float32_bytes"));
  const dtypes = Object.keys(doc.totals.params_by_dtype || {});
  if (dtypes.some((d) => d !== "float32")) {
    rows.push(row(`weights as stored (${dtypes.join(", ")})`, "memory/weights_stored_bytes"));
  }
  if (num(doc.totals.buffers) > 0) rows.push(row("buffers as stored", "memory/buffers_stored_bytes"));
  rows.push(row("Adam: weights + momentum + variance (×3)", "memory/adam_weights_momentum_variance_bytes"));
  rows.push(row("full training: Adam + gradients (×4)", "memory/adam_with_gradients_bytes"));
  rows.push(row("mixed precision Adam (16 B/param)", "memory/mixed_precision_adam_bytes"));
  const a = mem.activations;
  if (a) {
    const batch = a.batch_size === null || a.batch_size === undefined ? "" : `, batch ${a.batch_size}`;
    rows.push(row(`activations${batch}: outputs of layers with parameters ×2 (torchinfo)`,
      "memory/activations/torchinfo_forward_backward_bytes"));
    rows.push(row(`activations${batch}: every leaf layer's output, forward`, "memory/activations/leaf_output_bytes"));
    rows.push(row("torchinfo's estimated total (input + leaf weights + ×2 outputs)",
      "memory/activations/torchinfo_estimated_total_bytes"));
  }
  const notes = [];
  if (num(doc.totals.trainable_params) < num(doc.totals.params)) {
    notes.push(h("p", { class: "muted" }, "Gradients and Adam state count the ",
      figure(doc, "totals/trainable_params", "int"), " trainable params only (",
      figure(doc, "totals/non_trainable_params", "int"), " frozen)."));
  }
  if (!a) notes.push(h("p", { class: "muted" }, "Activations: -- (no forward pass was run; for a file, give --input-size)."));
  return [simpleTable(["", "binary (2^10)", "decimal (10^3)"], rows, [false, true, true], { id: "memory" }), ...notes];
}

function biasLine(doc) {
  const r = doc.redundant_biases;
  if (!r || r.layers.length === 0) return null;
  const n = r.layers.length;
  return h("p", { id: "redundant-bias" }, h("strong", {}, "Redundant bias: "),
    `${n} layer${n === 1 ? " feeds" : "s feed"} a bias straight into BatchNorm; bias=False would save `,
    figure(doc, "redundant_biases/wasted_params", "int"), " parameters (`tchinfo lint` lists them).");
}

function renderSummary(doc, view) {
  const treemap = new Treemap(doc, [960, 560], `treemap of ${doc.model}: area = parameters`);
  const side = h("div", { class: "side" },
    h("h3", {}, "By role"), rolesTable(doc),
    num(doc.totals.params) > 0 ? [h("h3", {}, "Largest layers"), largestTable(doc, 10), headLine(doc)] : null,
    biasLine(doc));
  const notes = (doc.notes || []).map((n) => h("li", {}, n));
  return [
    ...summaryHeader(doc),
    section("Where the parameters sit",
      h("p", { class: "muted" }, "Area = parameters, colour = what the layer does (its role). Hover for details; click a box to zoom into its block."),
      h("div", { class: "split" }, h("div", { class: "main" }, treemap.element, treemapLegend(treemap.root)), side)),
    section("Memory", ...memoryTable(doc)),
    section("Layers", layerTable(doc, view.depth)),
    notes.length > 0 ? section("Notes", h("ul", {}, notes)) : null,
  ];
}
