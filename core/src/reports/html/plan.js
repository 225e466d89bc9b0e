"use strict";
// The plan page (`tchinfo plan MODEL --format html`): a stacked bar of what training (or inference) at
// the planned batch needs, and memory against batch size with the budget and the largest batch that fits.
// The plan document is still changing, so every field is read defensively: a part that is missing is
// left out of the picture, not guessed.

/** The parts of the total, bottom to top: label and the document's field. */
const PLAN_PARTS = [
  ["weights", "weights_bytes"],
  ["gradients", "gradients_bytes"],
  ["optimizer state", "optimizer_state_bytes"],
  ["float32 master weights", "master_weights_bytes"],
  ["activations", "activations_bytes"],
];
const PLAN_COLOURS = {
  weights: "#4e79a7", gradients: "#f28e2b", "optimizer state": "#e15759",
  "float32 master weights": "#b07aa1", activations: "#59a14f",
};

/** A number field of the plan, or null when it is missing, null (overflow) or not a number. */
function planNumber(doc, key) {
  const v = lookup(doc, key);
  return typeof v === "number" || typeof v === "bigint" ? v : null;
}

/** Parts present in the document: [label, key, bytes]; `complete` is false when one overflowed. */
function planParts(doc) {
  const parts = [];
  let complete = true;
  for (const [label, key] of PLAN_PARTS) {
    if (!(key in doc)) continue;
    const v = planNumber(doc, key);
    if (v === null) complete = false;
    else if (num(v) > 0) parts.push([label, key, v]);
  }
  return { parts, complete };
}

/** Binary-unit axis ticks: about `count` round values of the largest unit under `max` bytes. */
function byteTicks(max, count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let k = 0;
  while (k + 1 < units.length && max / 1024 ** (k + 1) >= 1) k += 1;
  return niceTicks(max / 1024 ** k, count).map((t) => [t * 1024 ** k, `${t} ${units[k]}`]);
}

function planBar(doc, parts) {
  const total = planNumber(doc, "total_bytes");
  const budget = planNumber(doc, "budget_bytes");
  const sum = parts.reduce((a, p) => a + num(p[2]), 0);
  // A training plan's total is its step's peak, not the sum of the parts the bar stacks.
  const totalLabel = Array.isArray(doc.phases) ? "peak of the step" : "total";
  const scaleMax = Math.max(sum, num(budget) || 0);
  const [left, width, y, barHeight] = [10, 900, 26, 46];
  const svg = s("svg", { class: "bars", id: "plan-bar", viewBox: `0 0 ${left + width + 30} ${y + barHeight + 34}`,
    role: "img", "aria-label": "memory at the planned batch, by part" });
  const x = (v) => left + (v / scaleMax) * width;
  let at = 0;
  for (const [label, key, bytes] of parts) {
    const [x0, x1] = [x(at), x(at + num(bytes))];
    svg.append(s("rect", { class: "segment", x: x0, y, width: x1 - x0, height: barHeight,
      fill: PLAN_COLOURS[label] || colourOf(label), "data-part": key },
      s("title", {}, `${label}: ${binary(bytes)} (${thousands(bytes)} bytes)`)));
    if (x1 - x0 > 70) {
      svg.append(s("text", { class: "segment-label", x: (x0 + x1) / 2, y: y + 20, "text-anchor": "middle" }, fit(label, x1 - x0 - 6)));
      svg.append(s("text", { class: "segment-label", x: (x0 + x1) / 2, y: y + 36, "text-anchor": "middle" }, binary(bytes)));
    }
    at += num(bytes);
  }
  if (total !== null) {
    svg.append(s("text", { class: "tick", x: x(at), y: y - 8, "text-anchor": at > scaleMax * 0.8 ? "end" : "start" },
      `${totalLabel} ${binary(total)}`));
  }
  if (budget !== null) {
    svg.append(s("line", { class: "budget", id: "bar-budget", x1: x(num(budget)), x2: x(num(budget)), y1: y - 6, y2: y + barHeight + 8 }));
    svg.append(s("text", { class: "budget-label", x: x(num(budget)), y: y + barHeight + 24, "text-anchor": "end" },
      `budget ${binary(budget)}`));
  }
  return svg;
}

/** Memory against batch size: state (flat) and activations (growing) stacked, the budget as a line,
 *  the planned batch and the largest batch that fits marked. */
function planChart(doc, parts) {
  const batch = num(planNumber(doc, "batch_size"));
  const perSample = num(planNumber(doc, "activations_per_sample_bytes"));
  const fixedBytes = num(planNumber(doc, "activations_fixed_bytes")) || 0;
  const budget = num(planNumber(doc, "budget_bytes"));
  const largest = num(planNumber(doc, "fit/largest_batch"));
  if (batch === null || perSample === null) return null;
  const state = parts.filter((p) => p[1] !== "activations_bytes").reduce((a, p) => a + num(p[2]), 0);
  // A training plan's total is the peak of its step, the highest of its phases, each a line in the batch.
  const phases = Array.isArray(doc.phases) ? doc.phases.filter((p) => typeof p.bytes === "number") : [];
  const needed = phases.length > 0
    ? (b) => Math.max(...phases.map((p) => p.bytes + num(p.per_sample_bytes) * (b - batch)))
    : (b) => state + fixedBytes + perSample * b;
  const lastBatch = Math.max(8, Math.ceil(batch * 2), largest ? Math.ceil(largest * 1.3) : 0);
  const yMax = Math.max(needed(lastBatch), budget ? budget * 1.1 : 0, 1);
  const [left, top, width, height] = [84, 16, 800, 320];
  const X = (b) => left + (b / lastBatch) * width;
  const Y = (v) => top + height - (v / yMax) * height;
  const svg = s("svg", { class: "chart", id: "plan-chart", viewBox: `0 0 ${left + width + 40} ${top + height + 46}`,
    role: "img", "aria-label": "memory against batch size" });
  for (const [v, label] of byteTicks(yMax, 5).filter(([v]) => v <= yMax)) {
    svg.append(s("line", { class: "grid", x1: left, x2: left + width, y1: Y(v), y2: Y(v) }));
    svg.append(s("text", { class: "tick", x: left - 6, y: Y(v) + 4, "text-anchor": "end" }, label));
  }
  for (const b of niceTicks(lastBatch, 8).filter((b) => b <= lastBatch)) {
    svg.append(s("line", { class: "grid", x1: X(b), x2: X(b), y1: top, y2: top + height }));
    svg.append(s("text", { class: "tick", x: X(b), y: top + height + 16, "text-anchor": "middle" }, String(b)));
  }
  svg.append(s("text", { class: "axis-label", x: left + width / 2, y: top + height + 38, "text-anchor": "middle" }, "batch size"));
  // The state does not grow with the batch; activations do (fixed part + per sample × batch).
  const base = top + height;
  svg.append(s("polygon", { class: "area-state", fill: PLAN_COLOURS.weights,
    points: `${X(0)},${base} ${X(lastBatch)},${base} ${X(lastBatch)},${Y(state)} ${X(0)},${Y(state)}` }));
  svg.append(s("polygon", { class: "area-activations", fill: PLAN_COLOURS.activations,
    points: `${X(0)},${Y(state)} ${X(lastBatch)},${Y(state)} ${X(lastBatch)},${Y(needed(lastBatch))} ${X(0)},${Y(needed(0))}` }));
  svg.append(s("line", { class: "total-line", id: "plan-line", x1: X(0), y1: Y(needed(0)), x2: X(lastBatch), y2: Y(needed(lastBatch)) }));
  if (budget) {
    svg.append(s("line", { class: "budget", id: "chart-budget", x1: left, x2: left + width, y1: Y(budget), y2: Y(budget) }));
    svg.append(s("text", { class: "budget-label", x: left + width - 4, y: Y(budget) - 6, "text-anchor": "end" },
      `budget ${binary(budget)}`));
  }
  const mark = (id, b, label, cls) => {
    svg.append(s("line", { class: `marker ${cls}`, x1: X(b), x2: X(b), y1: base, y2: Y(needed(b)) }));
    svg.append(s("circle", { class: `dot ${cls}`, id, cx: X(b), cy: Y(needed(b)), r: 5, "data-batch": b }));
    svg.append(s("text", { class: `mark-label ${cls}`, x: X(b) + (b > lastBatch * 0.7 ? -8 : 8), y: Y(needed(b)) + 18,
      "text-anchor": b > lastBatch * 0.7 ? "end" : "start" }, label));
  };
  mark("planned", batch, `batch ${batch}`, "planned");
  if (largest) mark("largest", largest, `largest batch that fits: ${largest}`, "largest");
  return svg;
}

function planTable(doc, parts) {
  const row = (label, key) => [label, figure(doc, key, "binary"), figure(doc, key, "decimal"), figure(doc, key, "int")];
  const rows = parts.map(([label, key]) => row(label, key));
  if ("total_bytes" in doc) rows.push(row(h("strong", {}, "total"), "total_bytes"));
  return simpleTable(["", "binary (2^10)", "decimal (10^3)", "bytes"], rows, [false, true, true, true], { id: "plan-table" });
}

/** The sentences under the pictures: what dominates, how activations were measured, the budget. */
function planRemarks(doc) {
  const out = [];
  const measured = Array.isArray(doc.measured) ? doc.measured : [];
  if (Array.isArray(doc.phases)) {
    for (const p of doc.phases) {
      if (typeof p.bytes === "number") out.push(h("li", {}, `${p.phase} (${p.holds}): `, binary(p.bytes)));
    }
    if (typeof doc.peak_phase === "string") out.push(h("li", {}, `The peak of the step is its ${doc.peak_phase} phase.`));
  }
  if (doc.activations && typeof doc.activations.source === "string") {
    out.push(h("li", {}, doc.activations.source === "measured"
      ? `Activations measured: ${doc.activations.method ?? ""}.`
      : `Activations from the architecture: ${doc.activations.formula ?? ""}.`));
  }
  for (const a of Array.isArray(doc.assumptions) ? doc.assumptions : []) out.push(h("li", {}, String(a)));
  if (measured.length === 2) {
    out.push(h("li", {}, "Activations measured by running the model at batch ",
      figure(doc, "measured/0/batch", "int"), " (", figure(doc, "measured/0/activations_bytes", "binary"), ") and ",
      figure(doc, "measured/1/batch", "int"), " (", figure(doc, "measured/1/activations_bytes", "binary"), "): ",
      figure(doc, "activations_per_sample_bytes", "binary"), " per sample",
      doc.activations_dtype ? `, counted in ${doc.activations_dtype}.` : "."));
  }
  if (typeof doc.dominated_by === "string") out.push(h("li", {}, `Dominated by ${doc.dominated_by}.`));
  const fitDoc = doc.fit;
  if (fitDoc && planNumber(doc, "budget_bytes") !== null) {
    const budget = [figure(doc, "budget_bytes", "binary"), " (", figure(doc, "budget_bytes", "decimal"), ")"];
    if (num(fitDoc.largest_batch) > 0) {
      out.push(h("li", { id: "fit" }, "Budget ", ...budget, ": the largest batch that fits is ",
        figure(doc, "fit/largest_batch", "int"), " (needs ", figure(doc, "fit/total_bytes", "binary"), ")."));
    } else if (fitDoc.largest_batch === 0) {
      out.push(h("li", { id: "fit" }, "Budget ", ...budget, ": not even batch 1 fits (it needs ",
        figure(doc, "fit/needed_at_batch_1_bytes", "binary"), ")."));
    } else if (fitDoc.unbounded) {
      out.push(h("li", { id: "fit" }, "Budget ", ...budget, ": activations do not grow with the batch."));
    }
  }
  return h("ul", { class: "remarks" }, out);
}

function renderPlan(doc) {
  const mode = doc.mode === "inference" ? "inference" : `training with ${doc.optimizer ?? "?"}`;
  const { parts, complete } = planParts(doc);
  const chart = complete ? planChart(doc, parts) : null;
  return [
    h("header", {}, h("h1", {}, `Memory plan for ${doc.model}`),
      h("p", { class: "sub" }, `${mode}, ${doc.precision ?? "?"}, batch `, figure(doc, "batch_size", "int"), " · ",
        figure(doc, "params", "int"), " params (", figure(doc, "trainable_params", "int"), " trainable)")),
    section("At the planned batch",
      complete ? planBar(doc, parts) : h("p", {}, "A part of this plan overflows 64 bits: no picture is drawn."),
      h("div", { class: "legend" }, parts.map(([label]) =>
        h("span", { class: "legend-item" }, s("svg", { class: "swatch", width: 12, height: 12 },
          s("rect", { width: 12, height: 12, rx: 2, fill: PLAN_COLOURS[label] || colourOf(label) })), label))),
      planTable(doc, parts)),
    chart ? section("Memory against batch size", chart,
      h("p", { class: "muted" }, Array.isArray(doc.phases)
        ? "Blue: weights, gradients and optimizer state, whatever the batch. Green: activations held for backward. The line: the peak of a step, the highest of its phases, at each batch."
        : "Blue: weights, gradients and optimizer state, whatever the batch. Green: activations, measured at two batch sizes and extended in a straight line.")) : null,
    section("How it was measured", planRemarks(doc)),
  ];
}
