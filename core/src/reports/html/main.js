"use strict";
// Entry point: read the embedded report (and the view options beside it), draw the page for its schema, then mark the page ready (the
// browser tests wait for `data-ready`). An error is shown in the page and thrown again, so it reaches
// the console too.

const VIEWS = {
  "tchinfo/summary": [renderSummary, (d) => `${d.model} — tchinfo summary`],
  "tchinfo/compare": [renderCompare, (d) => `${d.models.map((m) => m.model).join(" vs ")} — tchinfo compare`],
  "tchinfo/plan": [renderPlan, (d) => `Memory plan for ${d.model} — tchinfo`],
};

function main() {
  const report = document.getElementById("report");
  try {
    const doc = parseReport(document.getElementById("tchinfo-data").textContent);
    // How the command asked to show it (summary's --depth), apart from the report's data.
    const options = JSON.parse(document.getElementById("tchinfo-view").textContent);
    const view = VIEWS[doc.schema];
    if (!view) throw new Error(`this page cannot draw a ${String(doc.schema)} document`);
    document.title = view[1](doc);
    report.replaceChildren(...view[0](doc, options).filter(Boolean),
      h("footer", {}, `tchinfo ${doc.tchinfo_version ?? ""} · ${doc.schema} schema version ${doc.schema_version ?? "?"}`,
        " · the figures are the JSON report's (`--format json`), embedded in this page · ",
        "KiB/MiB/GiB = 2^10/2^20/2^30 bytes, KB/MB/GB = 10^3/10^6/10^9"));
    for (const svg of report.querySelectorAll("svg.treemap")) svg.dispatchEvent(new Event("fit"));
    document.documentElement.setAttribute("data-ready", "1");
  } catch (error) {
    report.replaceChildren(h("p", { class: "error" }, `This report could not be drawn: ${error.message}`));
    document.documentElement.setAttribute("data-ready", "error");
    throw error;
  }
}

main();
