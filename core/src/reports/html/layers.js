"use strict";
// The layer table: the text table's rows and cells (core/src/reports/table.rs), folded to a depth the
// reader picks, sortable by any column. At a given depth it shows what `tchinfo --depth N` prints.

/** The first call's output shapes; a module called several times shows `×N`, or every call's shapes
 *  when they differ (table.rs `output_cell`). */
function outputText(m) {
  if (!m.outputs || m.outputs.length === 0) return "--";
  const shapes = (values) => values.map((v) => shapeText(v.shape)).join(", ");
  const first = shapes(m.outputs);
  const repeats = m.repeat_outputs || [];
  if (repeats.length === 0) return first;
  if (repeats.every((r) => shapes(r) === first)) return `${first} ×${repeats.length + 1}`;
  return [first, ...repeats.map(shapes)].join("; ");
}

/** One row of the table at `maxDepth`, with its cells as text and the numbers it sorts by. */
function layerRow(m, order, maxDepth, total, operators) {
  const leaf = m.children.length === 0;
  const folded = m.depth === maxDepth && !leaf;
  // A folded row or a leaf stands for its whole subtree; a row whose children are shown, for itself.
  const whole = folded || leaf;
  const params = whole ? m.subtree_params : m.own_params;
  const tied = m.parameters.some((p) => p.tied_to !== null && p.tied_to !== undefined);
  const percent = percentOf(params, total);
  // Operator mult-adds (table.rs `op_mult_adds_cell`): a row whose children are shown counts its own
  // code alone, so the column adds up to the total; torchinfo's count (when no operator was measured)
  // shows `--` there, as torchinfo does.
  const multAdds = operators ? (whole ? m.subtree_op_mult_adds : m.op_mult_adds) : whole ? m.subtree_mult_adds : null;
  let all = BigInt(m.subtree_params);
  let trainable = BigInt(m.subtree_trainable_params);
  if (!whole) {
    all = BigInt(m.own_params);
    trainable = m.parameters
      .filter((p) => !p.tied_to && p.requires_grad)
      .reduce((sum, p) => sum + BigInt(p.numel), 0n);
  }
  let trainableText = "Partial";
  if (all === 0n) trainableText = "--";
  else if (trainable === all) trainableText = "True";
  else if (trainable === 0n) trainableText = "False";
  return {
    module: m,
    order,
    label: m.depth === 0 ? m.type : `${m.type}: ${m.depth}-${m.index}`,
    path: m.path,
    output: outputText(m),
    params: num(params),
    paramsText: num(params) > 0 ? thousands(params) : tied ? "(tied)" : "--",
    percent: num(params) > 0 ? percent : null,
    multAdds: multAdds !== null && num(multAdds) > 0 ? num(multAdds) : null,
    multAddsText: multAdds !== null && num(multAdds) > 0 ? thousands(multAdds) : "--",
    trainable: trainableText,
  };
}

/** Columns: header, the row's text, the value it sorts by, numeric (right-aligned, largest first). The
 *  mult-adds column is the operator count, named as the text table names it; without one, torchinfo's. */
const layerColumns = (operators) => [
  { header: "Layer (type:depth-idx)", text: (r) => r.label, key: (r) => r.order, numeric: false },
  { header: "Module", text: (r) => (r.path === "" ? "(root)" : r.path), key: (r) => r.path, numeric: false },
  { header: "Output Shape", text: (r) => r.output, key: (r) => r.output, numeric: false },
  { header: "Param #", text: (r) => r.paramsText, key: (r) => r.params, numeric: true },
  { header: "Param %", text: (r) => (r.percent === null ? "--" : `${fixed(r.percent, 2)}%`), key: (r) => r.params, numeric: true },
  { header: operators ? "Mult-Adds (ops)" : "Mult-Adds (torchinfo)", text: (r) => r.multAddsText,
    key: (r) => r.multAdds ?? -1, numeric: true },
  { header: "Trainable", text: (r) => r.trainable, key: (r) => r.trainable, numeric: false },
];

/** The table with its depth picker, first at `depth` (the command's --depth; 3, as the text table, when
 *  not given). Sorting cycles: largest first (A–Z for text), then the other way, then tree order. */
function layerTable(doc, depth) {
  const modules = doc.modules || [];
  const operators = doc.totals.op_mult_adds !== null && doc.totals.op_mult_adds !== undefined;
  const LAYER_COLUMNS = layerColumns(operators);
  const deepest = modules.reduce((d, m) => Math.max(d, m.depth), 0);
  const state = { depth: Math.min(Number.isInteger(depth) ? depth : 3, deepest), column: null, descending: true };
  const picker = h("select", { id: "depth", "aria-label": "depth" },
    Array.from({ length: deepest + 1 }, (_, d) =>
      h("option", { value: String(d), selected: d === state.depth ? "selected" : null },
        d === deepest ? `${d} (all)` : String(d))));
  const headRow = h("tr", {});
  const body = h("tbody", {});
  const table = h("table", { class: "layers", id: "layers" }, h("thead", {}, headRow), body);

  const draw = () => {
    let rows = modules
      .map((m, i) => [m, i])
      .filter(([m]) => m.depth <= state.depth)
      .map(([m, i]) => layerRow(m, i, state.depth, doc.totals.params, operators));
    if (state.column !== null) {
      const col = LAYER_COLUMNS[state.column];
      const sign = state.descending ? -1 : 1;
      rows = rows.slice().sort((a, b) => {
        const [x, y] = [col.key(a), col.key(b)];
        const c = x < y ? -1 : x > y ? 1 : 0;
        return c * sign || a.order - b.order;
      });
    }
    body.replaceChildren(...rows.map((r) => {
      const tr = h("tr", { "data-path": r.path, "data-depth": r.module.depth });
      LAYER_COLUMNS.forEach((col, c) => {
        const td = h("td", { class: col.numeric ? "num" : null }, col.text(r));
        if (c === 0 && state.column === null) td.style.paddingLeft = `${0.5 + 1.1 * r.module.depth}em`;
        if (c === 4 && r.percent !== null) {
          const bar = h("span", { class: "bar", "aria-hidden": "true" });
          bar.style.width = `${Math.min(100, r.percent)}%`;
          td.prepend(bar);
        }
        tr.append(td);
      });
      return tr;
    }));
    headRow.querySelectorAll("th").forEach((th, c) => {
      const sorted = state.column === c;
      th.setAttribute("aria-sort", sorted ? (state.descending ? "descending" : "ascending") : "none");
    });
  };

  LAYER_COLUMNS.forEach((col, c) => {
    const button = h("button", { type: "button" }, col.header);
    button.addEventListener("click", () => {
      const first = col.numeric;
      if (state.column !== c) {
        state.column = c;
        state.descending = first;
      } else if (state.descending === first) {
        state.descending = !first;
      } else {
        state.column = null;
      }
      draw();
    });
    headRow.append(h("th", { class: col.numeric ? "num" : null, scope: "col" }, button));
  });
  picker.addEventListener("change", () => {
    state.depth = Number(picker.value);
    draw();
  });
  draw();
  return h("div", {},
    h("p", { class: "controls" }, h("label", { for: "depth" }, "Depth "), picker,
      h("span", { class: "muted" }, " — deeper rows fold into their parent, as --depth does; click a column to sort")),
    h("div", { class: "table-scroll" }, table));
}
