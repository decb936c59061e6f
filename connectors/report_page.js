"use strict";
// report.html's own script (connectors/reports.py inlines it, listed by hash in the page's
// policy). Data arrives as inert JSON in script blocks of type application/json and is put
// in the page as text only: Tabulator's plaintext formatter, textContent, Plotly's labels.
(function () {
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const G = read("anju-grid"), FIGS = read("anju-figs");
  const cols = G.columns, n = G.n;

  // columns travel dictionary-encoded where values repeat: {k: distinct values, i: codes}
  const values = cols.map((c) => c.k ? c.i.map((i) => c.k[i]) : c.v);
  const data = new Array(n);
  for (let r = 0; r < n; r++) {
    const o = {};
    for (let j = 0; j < cols.length; j++) o["c" + j] = values[j][r];
    data[r] = o;
  }
  performance.mark("anju-rows");  // for bench/report_html_bench.py: rows decoded ...

  // The formula rule of connectors/cells.py, for the XLSX export: text a spreadsheet would
  // evaluate gets a leading apostrophe; a plain negative number does not; control
  // characters become U+FFFD. Cells stay text cells either way (SheetJS writes JS strings as text).
  const RISKY = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
  const NEGATIVE = /^-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
  const neutralise = (v) => {
    if (typeof v !== "string") return v;
    v = v.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "\uFFFD");
    return RISKY.test(v) && !NEGATIVE.test(v) ? "'" + v : v;
  };

  // a column is never narrower than its header (title, sort arrow, padding)
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = "bold 13px " + getComputedStyle(document.body).fontFamily;
  const headerWidth = (t) => Math.ceil(ctx.measureText(t).width) + 34;

  const columns = cols.map((c, j) => ({
    title: c.title, field: "c" + j, visible: !c.hidden, minWidth: Math.max(headerWidth(c.title), c.min || 0),
    widthGrow: c.grow || 1, sorter: "string", headerSort: true, formatter: "plaintext", tooltip: true,
    headerFilter: c.choose ? "list" : "input", headerFilterPlaceholder: "筛选",
    headerFilterParams: c.choose ? {values: [""].concat(c.k.filter((v) => v !== "").sort()), clearable: true} : undefined,
    headerFilterFunc: c.choose ? "=" : "like", accessorDownload: neutralise,
  }));

  const table = new Tabulator("#grid", {
    data: data, columns: columns, layout: "fitColumns", height: "100%", renderVertical: "virtual",
    placeholder: "无符合条件的记录", index: "c0", columnHeaderVertAlign: "bottom",
  });
  window.anjuGrid = table;  // the page's tests and the console reach the grid here

  const count = document.getElementById("count");
  const showCount = (shown) => { count.textContent = shown.toLocaleString("zh-CN") + " / " + n.toLocaleString("zh-CN") + " 条"; };
  table.on("dataFiltered", (filters, rows) => showCount(rows.length));
  table.on("tableBuilt", () => { performance.mark("anju-grid"); showCount(n); document.body.dataset.gridReady = "1"; });

  // toolbar filters: one select per coded column named in G.filters
  const selects = [];
  for (const name of G.filters) {
    const j = cols.findIndex((c) => c.title === name);
    const label = document.createElement("label");
    label.textContent = name + " ";
    const sel = document.createElement("select");
    sel.dataset.field = "c" + j;
    const all = document.createElement("option");
    all.value = ""; all.textContent = "全部";
    sel.appendChild(all);
    const keys = cols[j].k.filter((v) => v !== "");
    const order = cols[j].order;  // the page's order for statuses and severities, else sorted
    keys.sort(order ? (a, b) => order.indexOf(a) - order.indexOf(b) : undefined);
    for (const v of keys) { const o = document.createElement("option"); o.value = o.textContent = v; sel.appendChild(o); }
    sel.addEventListener("change", applySelects);
    label.appendChild(sel);
    document.getElementById("filters").appendChild(label);
    selects.push(sel);
  }
  function applySelects() {
    table.setFilter(selects.filter((s) => s.value).map((s) => ({field: s.dataset.field, type: "=", value: s.value})));
  }
  window.anjuFilter = (title, value) => {  // used by the change buttons and the tests
    const sel = selects.find((s) => s.dataset.field === "c" + cols.findIndex((c) => c.title === title));
    if (!sel) return;
    sel.value = value; applySelects();
  };
  for (const b of document.querySelectorAll("button[data-status]")) {
    b.addEventListener("click", () => {
      window.anjuFilter("状态", b.dataset.status);
      document.getElementById("grid-section").scrollIntoView();
    });
  }
  // the sections' buttons (overdue, waived, alerts): one select above the grid each;
  // the other selects are cleared so the grid shows exactly what the button says
  for (const b of document.querySelectorAll("button[data-col]")) {
    b.addEventListener("click", () => {
      for (const s of selects) s.value = "";
      window.anjuFilter(b.dataset.col, b.dataset.value);
      document.getElementById("grid-section").scrollIntoView();
    });
  }
  document.getElementById("clear").addEventListener("click", () => {
    for (const s of selects) s.value = "";
    table.clearHeaderFilter(); applySelects();
  });

  // column chooser
  const chooser = document.getElementById("columns");
  cols.forEach((c, j) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.checked = !c.hidden;
    box.addEventListener("change", () => { box.checked ? table.showColumn("c" + j) : table.hideColumn("c" + j); });
    label.appendChild(box); label.appendChild(document.createTextNode(c.title));
    chooser.appendChild(label);
  });

  document.getElementById("export").addEventListener("click", () => {
    table.download("xlsx", G.file, {sheetName: "问题清单"}, "active");
  });

  // charts: figures built by the writer as Plotly JSON, drawn with the vendored basic bundle
  FIGS.forEach((fig, i) => {
    const div = document.getElementById("fig" + i);
    Plotly.newPlot(div, fig.data, fig.layout, {displaylogo: false, responsive: true});
  });
})();
