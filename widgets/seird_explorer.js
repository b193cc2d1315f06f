// SEIRD explorer front end: sliders + two SVG panels (compartments, ICU vs beds).
// Slider input is debounced so one update is sent after the hand stops moving;
// redraws only change existing <path> elements, so nothing flickers.
const COLOURS = { S: "#1f77b4", E: "#ff7f0e", I: "#d62728", R: "#2ca02c", D: "#222222", C: "#9467bd", beds: "#555" };
const NS = "http://www.w3.org/2000/svg";
const W = 640, H1 = 230, H2 = 150, PAD = { l: 62, r: 34, t: 10, b: 22 };

function el(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function fmt(x) {
  const short = (v) => String(Number(v.toFixed(1)));  // 2.5, 40, never 40.0
  if (Math.abs(x) >= 1e6) return short(x / 1e6) + "M";
  if (Math.abs(x) >= 1e3) return short(x / 1e3) + "k";
  return String(Math.round(x));
}

// Round axis steps (1, 2, 2.5 or 5 times a power of ten), so ticks read 0, 5k, 10k, 15k.
function niceTicks(ymax, count = 4) {
  const raw = Math.max(ymax, 1) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= ymax * 1.0001; v += step) ticks.push(v);
  return ticks;
}

function panel(parent, height, names) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${height}` }, parent);
  const axes = el("g", {}, svg);
  const paths = {};
  for (const n of names) {
    paths[n] = el("path", { fill: "none", stroke: COLOURS[n], "stroke-width": n === "beds" ? 1.5 : 2,
      "stroke-dasharray": n === "beds" ? "5,4" : "" }, svg);
  }
  const over = el("path", { fill: "#d62728", opacity: 0.25, stroke: "none" }, svg);
  return { svg, axes, paths, over, height };
}

function scale(v, ymax, log) {
  if (!log) return Math.min(v, ymax) / (ymax || 1);
  return Math.log10(Math.max(1, Math.min(v, ymax))) / Math.log10(Math.max(10, ymax));
}

function drawAxes(p, ymax, days, log = false) {
  p.axes.replaceChildren();
  const x0 = PAD.l, x1 = W - PAD.r, y0 = p.height - PAD.b, y1 = PAD.t;
  el("line", { x1: x0, y1: y0, x2: x1, y2: y0, stroke: "#999" }, p.axes);
  el("line", { x1: x0, y1: y0, x2: x0, y2: y1, stroke: "#999" }, p.axes);
  const ticks = log
    ? Array.from({ length: Math.floor(Math.log10(Math.max(10, ymax))) + 1 }, (_, i) => 10 ** i)
    : niceTicks(ymax);
  for (const v of ticks) {
    const y = y0 - scale(v, ymax, log) * (y0 - y1);
    el("line", { x1: x0, y1: y, x2: x1, y2: y, stroke: "#eee" }, p.axes);
    const t = el("text", { x: x0 - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#555" }, p.axes);
    t.textContent = fmt(v);
  }
  for (let d = 0; d <= days; d += 50) {
    const x = x0 + (d / Math.max(1, days - 1)) * (x1 - x0);
    const t = el("text", { x, y: p.height - 6, "text-anchor": "middle", "font-size": 11, fill: "#555" }, p.axes);
    t.textContent = `day ${d}`;
  }
}

function points(values, ymax, height, days, log = false) {
  const x0 = PAD.l, x1 = W - PAD.r, y0 = height - PAD.b, y1 = PAD.t;
  return values.map((v, i) => [x0 + (i / Math.max(1, days - 1)) * (x1 - x0),
    y0 - scale(v, ymax, log) * (y0 - y1)]);
}

function pathOf(values, ymax, height, days, log = false) {
  return points(values, ymax, height, days, log)
    .map(([x, y], i) => (i ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1)).join("");
}

function render({ model, el: root }) {
  const box = document.createElement("div");
  box.className = "seird";
  const controls = document.createElement("div");
  controls.className = "controls";
  const charts = document.createElement("div");
  charts.className = "charts";
  box.append(controls, charts);
  root.appendChild(box);

  const select = document.createElement("select");
  for (const c of model.get("countries")) {
    const o = document.createElement("option");
    o.value = o.textContent = c;
    select.appendChild(o);
  }
  select.value = model.get("country");
  const countryLabel = document.createElement("label");
  countryLabel.append("age profile (population, p_IC, p_CD)", select);
  controls.appendChild(countryLabel);
  select.addEventListener("change", () => { model.set("country", select.value); model.save_changes(); });

  let timer = null;
  const pending = {};
  const inputs = {};
  for (const s of model.get("sliders")) {
    const label = document.createElement("label");
    const row = document.createElement("div");
    row.className = "row";
    const name = document.createElement("span");
    name.textContent = s.label;
    const value = document.createElement("span");
    value.className = "value";
    row.append(name, value);
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: s.min, max: s.max, step: s.step });
    input.value = model.get("params")[s.name];
    value.textContent = input.value;
    input.addEventListener("input", () => {
      value.textContent = input.value;
      pending[s.name] = parseFloat(input.value);
      clearTimeout(timer);
      timer = setTimeout(() => {  // debounce: one update after the slider rests
        model.set("params", { ...model.get("params"), ...pending });
        model.save_changes();
      }, 120);
    });
    inputs[s.name] = [input, value];
    label.append(row, input);
    controls.appendChild(label);
  }
  const error = document.createElement("div");
  error.className = "error";
  controls.appendChild(error);

  const legend = document.createElement("div");
  legend.className = "legend";
  for (const n of ["S", "E", "I", "R", "D", "C", "beds"]) {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLOURS[n];
    span.append(swatch, n === "C" ? "critical (C)" : n === "beds" ? "ICU beds" : n);
    legend.appendChild(span);
  }
  const logBox = document.createElement("input");
  logBox.type = "checkbox";
  const logLabel = document.createElement("label");
  logLabel.style.flexDirection = "row";
  logLabel.append(logBox, " logarithmic scale (see the small numbers)");
  controls.appendChild(logLabel);
  logBox.addEventListener("change", () => redraw());
  const top = panel(charts, H1, ["S", "E", "I", "R", "D"]);
  const bottom = panel(charts, H2, ["C", "beds"]);
  const summary = document.createElement("div");
  summary.className = "summary";
  charts.append(legend, summary);

  function redraw() {
    const s = model.get("series");
    if (!s || !s.S) return;
    const days = s.S.length;
    const n = s.S[0] + s.E[0] + s.I[0] + s.C[0] + s.R[0] + s.D[0];
    const log = logBox.checked;
    drawAxes(top, n, days, log);
    for (const k of ["S", "E", "I", "R", "D"]) top.paths[k].setAttribute("d", pathOf(s[k], n, H1, days, log));
    const ymax = Math.max(...s.C, ...s.beds) * 1.05;
    drawAxes(bottom, ymax, days);
    bottom.paths.C.setAttribute("d", pathOf(s.C, ymax, H2, days));
    bottom.paths.beds.setAttribute("d", pathOf(s.beds, ymax, H2, days));
    // shade patients without a bed: between max(C, beds) and beds
    const upper = points(s.C.map((c, i) => Math.max(c, s.beds[i])), ymax, H2, days);
    const lower = points(s.beds, ymax, H2, days).reverse();
    const area = upper.concat(lower).map(([x, y], i) => (i ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1)).join("") + "Z";
    bottom.over.setAttribute("d", area);
    const m = model.get("summary");
    summary.innerHTML =
      `ICU peak on <b>day ${m.peak_day}</b>: <b>${fmt(m.peak_critical)}</b> critical patients for ` +
      `${fmt(m.beds_at_peak)} beds` + (m.over_capacity
        ? ` — <span class="over">over capacity on ${m.days_over_capacity} days</span>` : " — within capacity") +
      `<br>deaths after ${days} days: <b>${fmt(m.deaths)}</b> of ${fmt(m.population)} people ` +
      `(p_IC ${m.p_ic}, p_CD ${m.p_cd})`;
  }
  model.on("change:series", redraw);
  model.on("change:error", () => { error.textContent = model.get("error"); });
  model.on("change:params", () => {
    for (const [k, [input, value]] of Object.entries(inputs)) {
      if (!(k in pending)) { input.value = model.get("params")[k]; value.textContent = input.value; }
    }
    for (const k of Object.keys(pending)) delete pending[k];
  });
  redraw();
  error.textContent = model.get("error");
}

export default { render };
