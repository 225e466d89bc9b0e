"use strict";
// Reading the report's JSON and writing its figures exactly as the text reports do (core/src/units.rs),
// plus the two DOM helpers every view builds with. Names from the model file only ever become text nodes
// or attribute values here: never markup.

/** JSON.parse that keeps integers beyond 2^53 exact (as BigInt): counts and bytes are 64-bit in the JSON. */
function parseReport(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context &&
        /^\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}

/** A JSON count or size as a Number, for geometry (null stays null). */
function num(x) {
  return x === null || x === undefined ? null : Number(x);
}

/** The value at `path` ("totals/params", "models/0/head/share") in `doc`, or undefined. */
function lookup(doc, path) {
  return path.split("/").reduce((o, key) => (o === null || o === undefined ? undefined : o[key]), doc);
}

/** `138357544` → "138,357,544". */
function thousands(n) {
  const digits = String(n);
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ",";
    out += digits[i];
  }
  return out;
}

/** `x` with `digits` decimals as Rust's `{:.N}` writes it: the nearest decimal, an exact tie to even
 *  (toFixed would round a tie up: 1.125 must read 1.12, as in the text report). */
function fixed(x, digits) {
  // A double exactly halfway at N decimals is an odd multiple of 2^-(N+1).
  const halves = x * 2 ** (digits + 1);
  if (Number.isInteger(halves) && Math.abs(halves % 2) === 1) {
    const scaled = x * 10 ** digits;
    let k = Math.floor(scaled);
    if (k % 2 !== 0) k += 1;
    const text = String(k).padStart(digits + 1, "0");
    return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  }
  return x.toFixed(digits);
}

/** The largest unit that keeps the value ≥ 1, stepping up on the rounded value (units.rs `scaled`). */
function scaled(n, base, names, sep) {
  const rounded = (v) => Math.round(v * 100) / 100;
  let value = Number(n);
  let unit = 0;
  while (unit + 1 < names.length && (unit === 0 ? value : rounded(value)) >= base) {
    value /= base;
    unit += 1;
  }
  return unit === 0 ? `${String(n)}${sep}${names[0]}` : `${fixed(value, 2)} ${names[unit]}`;
}

const binary = (bytes) => scaled(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], " ");
const decimal = (bytes) => scaled(bytes, 1000, ["B", "KB", "MB", "GB", "TB", "PB", "EB"], " ");
const si = (n) => scaled(n, 1000, ["", "k", "M", "G", "T", "P", "E"], "");

/** A share (0..1, as the JSON writes it) as a percentage with `digits` decimals. */
const percentOfShare = (share, digits) => `${fixed(share * 100, digits)}%`;

/** `part` as a percentage of `total`, computed as the text table does (Totals::percent). */
function percentOf(part, total) {
  return Number(total) === 0 ? 0 : (Number(part) * 100) / Number(total);
}

/** `[1, 64, 224, 224]`, as the text table writes an output shape. */
const shapeText = (shape) => `[${shape.map(String).join(", ")}]`;

/** How each figure reads; `null` reads "--", or "overflows 64 bits" for memory (as the text reports). */
const FORMATS = {
  int: (v) => thousands(v),
  binary: (v) => binary(v),
  decimal: (v) => decimal(v),
  si: (v) => si(v),
  pct1: (v) => percentOfShare(v, 1),
  pct2: (v) => percentOfShare(v, 2),
  text: (v) => String(v),
};

function formatValue(value, format) {
  if (value === null || value === undefined) {
    return format === "binary" || format === "decimal" ? "overflows 64 bits" : "--";
  }
  return FORMATS[format](value);
}

// ------------------------------------------------------------------------------------------------ DOM

/** An HTML element. `attrs` are set with setAttribute (values are never parsed as markup); children
 *  are nodes or strings, and strings become text nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAll(el, attrs, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element, as `h`. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAll(el, attrs, children);
  return el;
}

function setAll(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** A figure read from the JSON at `key` (a path into the embedded document): the tests find every such
 *  element and check its text against the JSON report. */
function figure(doc, key, format, attrs) {
  const value = lookup(doc, key);
  return h("span", { class: "figure", "data-key": key, "data-format": format, ...attrs },
    formatValue(value, format));
}

/** The same inside an SVG drawing. */
function svgFigure(doc, key, format, attrs) {
  return s("text", { "data-key": key, "data-format": format, ...attrs }, formatValue(lookup(doc, key), format));
}

/** A figure's exact number, for a `title` tooltip. */
function exact(value, unit) {
  return value === null || value === undefined ? "" : `${thousands(value)} ${unit}`;
}

// ---------------------------------------------------------------------------------------------- colour

// Colour = what a box does: the module's role (summary::role — embedding, attention, feed-forward,
// experts and router, normalization, convolution, linear …), by the name the text report gives it; a
// document without roles falls back on the layer kind.
const ROLE_NAMES = {
  embedding: "Embedding", attention: "Attention", feed_forward: "Feed-forward",
  experts: "Experts and router", normalization: "Normalization", convolution: "Convolution",
  linear: "Linear", recurrent: "Recurrent", other: "Other",
};
/** The display name of a role key (`feed_forward` → `Feed-forward`). */
const roleName = (key) => ROLE_NAMES[key] ?? key;
const colourKey = (m) => (m.role ? roleName(m.role) : m.kind);

/** Fixed colours for the names known today (kinds, and the roles to come); any other name takes the
 *  next unused colour, so a new kind or role needs no change here. */
const KNOWN_COLOURS = {
  linear: "#e15759", "linear head": "#e15759",
  convolution: "#4e79a7",
  normalization: "#edc948", norm: "#edc948",
  embedding: "#59a14f",
  attention: "#b07aa1",
  "feed-forward": "#f28e2b",
  recurrent: "#76b7b2",
  experts: "#ff9da7", "experts and router": "#ff9da7",
  other: "#9c755f",
  container: "#bab0ac",
};
const SPARE_COLOURS = ["#17becf", "#bcbd22", "#8c564b", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a"];
const assignedColours = new Map();

function colourOf(key) {
  const name = String(key ?? "other").toLowerCase();
  if (KNOWN_COLOURS[name]) return KNOWN_COLOURS[name];
  if (!assignedColours.has(name)) {
    assignedColours.set(name, SPARE_COLOURS[assignedColours.size % SPARE_COLOURS.length]);
  }
  return assignedColours.get(name);
}

/** A small colour square for legends (SVG, so its colour is an attribute, not a style). */
const swatch = (key) =>
  s("svg", { class: "swatch", width: 12, height: 12, "aria-hidden": "true" },
    s("rect", { width: 12, height: 12, rx: 2, fill: colourOf(key) }));

// ---------------------------------------------------------------------------------------------- layout

/** A titled section of the page. */
function section(title, ...content) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...content);
}

/** A plain table: `rows` of cells (strings or nodes); `numeric[c]` right-aligns column c. */
function simpleTable(header, rows, numeric, attrs) {
  const align = (c) => (numeric && numeric[c] ? "num" : null);
  return h("table", { class: "simple", ...attrs },
    h("thead", {}, h("tr", {}, header.map((cell, c) => h("th", { class: align(c) }, cell)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, c) => h("td", { class: align(c) }, cell))))));
}

/** The model's name for a module: its paper name when it has one (`fc6 (classifier.0)`), else its path. */
function moduleLabel(m) {
  const path = m.path === "" ? "(root)" : m.path;
  return m.paper_name ? `${m.paper_name} (${path})` : path;
}

/** Round axis ticks from 0 to at least `max`: steps of 1, 2 or 5 × 10^k, about `count` of them. */
function niceTicks(max, count) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((st) => st >= raw);
  const ticks = [];
  for (let i = 0; ; i++) {
    // i × step, not a running sum: 3 × 0.1 must read 0.3.
    const v = Number((i * step).toPrecision(12));
    ticks.push(v);
    if (v >= max) return ticks;
  }
}

/** A round axis value with an SI prefix and no needless decimals: 50000000 → "50 M". */
function countTick(v) {
  const names = ["", "k", "M", "G", "T", "P", "E"];
  let k = 0;
  while (k + 1 < names.length && v >= 1000 ** (k + 1)) k += 1;
  return `${Number((v / 1000 ** k).toPrecision(6))} ${names[k]}`.trim();
}
