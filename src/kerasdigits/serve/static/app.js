// kerasdigits serve: draw a digit (or drop a photo), send it to /api/predict, show the answer.
// Plain ES module, no framework, no build step.

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const INK_WIDTH = 20;   // canvas pixels; the 280-pixel canvas is 28 MNIST pixels of 10
const DEBOUNCE_MS = 150;

const strokes = [];     // each stroke: [[x, y], ...] in canvas pixels
let stroke = null;      // the stroke being drawn
let timer = 0;
let sequence = 0;       // only the newest request's answer is shown

// ------------------------------------------------------------------ drawing

function blank() {
  ctx.fillStyle = "#000";  // white ink on black, as MNIST (to_mnist would invert either way)
  ctx.fillRect(0, 0, pad.width, pad.height);
}

function segment(from, to) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = INK_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(...from);
  ctx.lineTo(...to);
  ctx.stroke();
}

function drawStroke(points) {
  points.forEach((p, i) => segment(points[Math.max(0, i - 1)], p));
}

function redraw() {
  blank();
  strokes.forEach(drawStroke);
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
          (event.clientY - box.top) * pad.height / box.height];
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  stroke = [point(event)];
  strokes.push(stroke);
  drawStroke(stroke);
});

pad.addEventListener("pointermove", (event) => {
  if (!stroke) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    segment(stroke[stroke.length - 1], p);
    stroke.push(p);
  }
});

function endStroke() {
  if (!stroke) return;
  stroke = null;
  schedule();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function undo() {
  strokes.pop();
  redraw();
  schedule();
}

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", () => {
  strokes.length = 0;
  redraw();
  schedule();
});
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "z") {
    event.preventDefault();
    undo();
  }
});

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(sendDrawing, DEBOUNCE_MS);
}

function sendDrawing() {
  if (stroke) return;  // mid-stroke: lifting the pen schedules the next one
  if (!strokes.length) {
    sequence++;  // drop any answer still on its way
    showEmpty();
    return;
  }
  predict(canvasPng(), "image/png", `strokes:${strokes.length}`);
}

function canvasPng() {
  // toDataURL, not toBlob: Chromium may hold a toBlob back for up to a second of idle time.
  const base64 = pad.toDataURL("image/png").split(",")[1];
  return new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: "image/png" });
}

// ------------------------------------------------------------------ photos

function usePhoto(file) {
  if (!file) return;
  const photo = $("photo");
  if (photo.src) URL.revokeObjectURL(photo.src);
  photo.src = URL.createObjectURL(file);
  photo.hidden = false;
  predict(file, file.type || "application/octet-stream", `photo:${file.name}`);
}

const drop = $("drop");
$("file-input").addEventListener("change", (event) => usePhoto(event.target.files[0]));
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  usePhoto(event.dataTransfer.files[0]);
});
document.addEventListener("paste", (event) => {
  const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
  if (file) usePhoto(file);
});

// ------------------------------------------------------------------ the answer

async function predict(body, type, tag) {
  const mine = ++sequence;
  const result = $("result");
  result.dataset.state = "busy";
  const started = performance.now();
  let answer;
  try {
    const response = await fetch("api/predict", {
      method: "POST", headers: { "Content-Type": type }, body,
    });
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  } catch (error) {
    if (mine !== sequence) return;
    result.dataset.state = "error";
    result.dataset.tag = tag;
    $("message").textContent = error.message;
    return;
  }
  if (mine !== sequence) return;  // a newer drawing is on its way
  show(answer, performance.now() - started);
  result.dataset.tag = tag;
  result.dataset.state = "done";
}

function percent(p) {
  return p >= 0.995 ? "100%" : p < 0.005 ? (p > 0 ? "<1%" : "0%") : `${Math.round(p * 100)}%`;
}

function show(answer, roundTrip) {
  $("message").textContent = "";
  $("top-label").textContent = answer.label;
  $("top-prob").textContent = percent(answer.probabilities[answer.index]);
  const bars = $("bars");
  bars.replaceChildren(...answer.labels.map((label, i) => {
    const p = answer.probabilities[i];
    const item = document.createElement("li");
    item.className = i === answer.index ? "best" : "";
    item.innerHTML = '<span class="name"></span><span class="track"><span class="bar">'
      + '</span></span><span class="pct"></span>';
    item.querySelector(".name").textContent = label;
    item.querySelector(".name").title = label;
    item.querySelector(".bar").style.width = `${(p * 100).toFixed(1)}%`;
    item.querySelector(".pct").textContent = percent(p);
    return item;
  }));
  drawPreview(answer.image);
  const t = answer.timing;
  $("timing").textContent = `${answer.model.runtime} ran ${answer.model.file} in `
    + `${t.inference_ms.toFixed(2)} ms (to_mnist ${t.preprocess_ms.toFixed(1)} ms, `
    + `server ${t.total_ms.toFixed(1)} ms, round trip ${roundTrip.toFixed(0)} ms)`;
}

function drawPreview(rows) {
  const preview = $("preview").getContext("2d");
  const image = preview.createImageData(28, 28);
  rows.flat().forEach((v, i) => {
    image.data.set([v, v, v, 255], i * 4);
  });
  preview.putImageData(image, 0, 0);
}

function showEmpty() {
  const result = $("result");
  result.dataset.state = "empty";
  result.dataset.tag = "strokes:0";
  $("top-label").textContent = "?";
  $("top-prob").textContent = "";
  $("bars").replaceChildren();
  $("message").textContent = "";
  $("timing").textContent = "";
  const preview = $("preview");
  preview.getContext("2d").clearRect(0, 0, preview.width, preview.height);
}

// ------------------------------------------------------------------ the file

function bytes(n) {
  return n == null ? "" : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

function tensor(t) {
  const q = t.quantization ? `, scale ${t.quantization.scale}, zero point ${t.quantization.zero_point}` : "";
  return `${t.name}: ${t.dtype} [${t.shape.map((d) => d ?? "N").join(", ")}]${q}`;
}

async function loadModel() {
  const response = await fetch("api/model");
  const m = await response.json();
  $("model-line").textContent = `${m.file} (${bytes(m.size_bytes) || m.format}), answered by `
    + `${m.runtime} ${m.runtime_version}`;
  const f = m.feeding;
  const layout = { rgb: "RGB image, R = G = B", gray: "grayscale image", flat: "784 values" };
  const fed = f.dtype === "float32" ? `float32 (pixel - ${f.mean}) / ${f.std}`
    : f.dtype === "uint8" ? "uint8 pixels 0..255" : f.dtype;
  const rows = [
    ["file", `${m.file}${m.size_bytes ? `, ${m.size_bytes.toLocaleString("en")} bytes` : ""}`],
    ["runtime", `${m.runtime} ${m.runtime_version}`],
    ["inputs", m.inputs.map(tensor).join("; ")],
    ["fed as", `${layout[f.layout] ?? f.layout}, ${fed}`
      + `${f.invert ? ", inverted (dark ink on light)" : ""}`],
    ["outputs", m.outputs.map(tensor).join("; ")],
    ["quantization", m.quantization || "none (float32)"],
    ["labels", m.labels.join(", ")],
  ];
  if (m.export) rows.push(["exported", `from ${m.export.model} for ${m.export.target}`]);
  if (m.parameters) rows.push(["parameters", m.parameters.toLocaleString("en")]);
  $("model-info").replaceChildren(...rows.flatMap(([key, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = key;
    dd.textContent = value;
    return [dt, dd];
  }));
  document.body.dataset.model = "ready";
}

blank();
loadModel().catch((error) => {
  $("model-line").textContent = `cannot reach the server: ${error.message}`;
});
