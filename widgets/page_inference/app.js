// The static page around the in-page pipeline (written by `kit app export mask_detector OUT`):
// loads config.json and the four files it names (checking their sha256 where the browser
// allows it), then detects on the camera or an uploaded picture. No kernel, no network
// beyond this folder.
import { StagedPipeline, createPipeline, gunzip, simdSupported } from "./mask_pipeline.mjs";

const root = document.querySelector(".kit-page");
const status = root.querySelector(".status");
const view = root.querySelector("canvas.view");
const video = root.querySelector("video");
const startButton = root.querySelector(".start");
const upload = root.querySelector(".upload");
const MAX_WIDTH = 640;

function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function load(config, name) {
  const spec = config.files[name];
  const response = await fetch(spec.file);
  if (!response.ok) throw new Error(`${spec.file}: ${response.status} ${response.statusText}`);
  const data = new Uint8Array(await response.arrayBuffer());
  if (data.length !== spec.bytes) throw new Error(`${spec.file}: ${data.length} bytes, expected ${spec.bytes}`);
  if (globalThis.crypto && crypto.subtle) {  // only in secure contexts (https, localhost)
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== spec.sha256) throw new Error(`${spec.file}: damaged (its sha256 differs from config.json)`);
  }
  return data;
}

function draw(image, width, height, result, config) {
  view.width = width;
  view.height = height;
  const ctx = view.getContext("2d");
  ctx.drawImage(image, 0, 0, width, height);
  const line = Math.max(2, Math.round(Math.max(width, height) / 320));
  ctx.lineWidth = line;
  ctx.font = `bold ${8 + 4 * line}px system-ui, sans-serif`;
  for (const face of result.faces) {
    const [x1, y1, x2, y2] = face.box;
    const label = config.labels[face.label] || { name: face.label, colour: "#c8c8c8" };
    ctx.strokeStyle = label.colour;
    ctx.fillStyle = label.colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${label.name} ${Math.round(face.prob * 100)}%`;
    const size = 8 + 4 * line, top = Math.max(0, y1 - size - 4);
    ctx.fillRect(x1 - line / 2, top, ctx.measureText(text).width + 8, size + 4);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 + 4, top + size);
  }
  view.style.display = "block";
  const counts = {};
  for (const c of config.classifier.classes) counts[c] = 0;
  for (const face of result.faces) counts[face.label] += 1;
  root.querySelector(".counts").innerHTML = config.classifier.classes
    .map((c) => `<span style="color:${config.labels[c].colour}">${config.labels[c].name}: ${counts[c]}</span>`).join("");
  root.dataset.results = String(Number(root.dataset.results) + 1);
}

function frameSize(w, h) {
  const scale = Math.min(1, MAX_WIDTH / w);
  return [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
}

const grab = document.createElement("canvas");
function pixels(source, width, height) {
  grab.width = width;
  grab.height = height;
  const ctx = grab.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

async function main() {
  if (!simdSupported()) {
    say("This browser cannot run WebAssembly SIMD, which the detector needs. Use a current Chrome, Edge, " +
        "Firefox or Safari, or open the app with kit serve, where the server detects.", true);
    return;
  }
  const config = await (await fetch("config.json")).json();
  const [wasm, detector, classifier] = await Promise.all(
    ["wasm", "detector", "classifier"].map((name) => load(config, name)));
  const parts = { wasm: await gunzip(wasm), detector, classifier, config };
  let pipeline;
  try {  // two workers, one network each: the page stays responsive and both cores work
    pipeline = await StagedPipeline.start(new URL("mask_pipeline.mjs", location.href).href, parts);
  } catch (e) {
    pipeline = await createPipeline(parts);
  }
  window.kitMaskDetector = { pipeline, config };
  say("Ready: start the camera or choose a picture.");
  startButton.disabled = false;
  upload.disabled = false;

  let times = [], inFlight = 0;
  const limit = pipeline.busy === undefined ? 1 : 2;  // two stages: two frames on their way at once
  async function answer() {
    inFlight += 1;
    try {
      const [w, h] = frameSize(video.videoWidth, video.videoHeight);
      const frame = pixels(video, w, h);
      const shown = await createImageBitmap(frame);  // its own pixels: the buffer goes to a worker
      const result = await pipeline.process(frame.data, w, h);
      draw(shown, w, h, result, config);
      shown.close();
      const now = performance.now();
      times = times.filter((t) => now - t < 2000).concat(now);
      root.querySelector(".fps").textContent =
        `${(times.length / 2).toFixed(1)} frames/s · ${result.timings.total_ms.toFixed(0)} ms per frame in this page`;
    } catch (e) {
      say(`Detection failed: ${e.message || e}`, true);
    } finally {
      inFlight -= 1;
    }
  }
  function loop() {
    if (video.readyState >= 2 && video.videoWidth && inFlight < limit) answer();
    requestAnimationFrame(loop);
  }

  startButton.addEventListener("click", async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      await video.play();
      say("Camera on.");
      startButton.disabled = true;
      loop();
    } catch (e) {
      say(`No camera (${e.name || e}): choose a picture instead.`, true);
    }
  });
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file) return;
    try {
      const bitmap = await createImageBitmap(file);
      const [w, h] = frameSize(bitmap.width, bitmap.height);
      const frame = pixels(bitmap, w, h);
      draw(grab, w, h, await pipeline.process(frame.data, w, h), config);
      say(`${file.name}: done.`);
    } catch (e) {
      say(`${file.name}: not a picture this page can read (${e.message || e}).`, true);
    }
  });
}

main().catch((e) => say(`The detector could not start: ${e.message || e}`, true));
