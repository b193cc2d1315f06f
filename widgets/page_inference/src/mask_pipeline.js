// The mask detector's pipeline in the page: CenterFace and the kit's classifier on
// ONNX Runtime Web (WebAssembly, SIMD, one thread), with the pre- and post-processing of
// the kernel's path (kit.vision.faces.detectors.CenterFaceDetector, kit.vision.live.pipeline):
// the same working scale, area resizing, box decoding, non-maximum suppression (OpenCV's
// NMSBoxes), clipping, crop margin, squashing to the classifier's input and decision bias.
// The classifier's own preprocessing is inside its ONNX graph (kit.vision.masks.export).
//
// Built into ../mask_pipeline.mjs by ../build.sh; nothing here touches the DOM, so the
// static page, the widget and the parity test all call the same code.
import * as ort from "onnxruntime-web/wasm";

// wasm-feature-detect's SIMD probe: a module using v128 that validates only with SIMD.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);

export function simdSupported() {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
  } catch (e) {
    return false;
  }
}

export async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// Python's round(): halves to even, so sizes and boxes round as in the kernel.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

let runtimeWasm = null;

export async function createPipeline({ wasm, detector, classifier, config }) {
  if (!simdSupported()) throw new Error("this browser cannot run WebAssembly SIMD");
  if (runtimeWasm === null) {
    ort.env.logLevel = "error";
    // the runtime is set up once per page: one thread (no cross-origin isolation needed), no
    // worker, and the .wasm given as bytes, so nothing is fetched from a URL
    runtimeWasm = wasm;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmBinary = wasm;
  }
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all", logSeverityLevel: 3 };
  // a worker that runs one stage loads one network (StagedPipeline)
  const det = detector ? await ort.InferenceSession.create(detector, options) : null;
  const cls = classifier ? await ort.InferenceSession.create(classifier, options) : null;
  return new MaskPipeline(det, cls, config);
}

// OpenCV's INTER_AREA for shrinking: each output pixel the coverage-weighted mean of the
// input pixels under it (separable weights as cv::resize computes them).
function areaTable(src, dst) {
  const scale = src / dst;
  const table = [];
  for (let d = 0; d < dst; d++) {
    const f1 = d * scale, f2 = f1 + scale;
    const cell = Math.min(scale, src - f1);
    let s1 = Math.ceil(f1), s2 = Math.floor(f2);
    s2 = Math.min(s2, src - 1);
    s1 = Math.min(s1, s2);
    const taps = [];
    if (s1 - f1 > 1e-3) taps.push([s1 - 1, (s1 - f1) / cell]);
    for (let s = s1; s < s2; s++) taps.push([s, 1 / cell]);
    if (f2 - s2 > 1e-3) taps.push([s2, Math.min(Math.min(f2 - s2, 1), cell) / cell]);
    table.push(taps);
  }
  return table;
}

// OpenCV's INTER_LINEAR: half-pixel centres, edges clamped.
function linearTable(src, dst) {
  const scale = src / dst;
  const table = [];
  for (let d = 0; d < dst; d++) {
    let f = (d + 0.5) * scale - 0.5;
    let s = Math.floor(f);
    f -= s;
    if (s < 0) { s = 0; f = 0; }
    if (s >= src - 1) { s = src - 1; f = 0; }
    table.push(f === 0 ? [[s, 1]] : [[s, 1 - f], [s + 1, f]]);
  }
  return table;
}

// Tap tables as flat typed arrays: the resampling loops below stay on numbers (about five
// times faster than walking arrays of [index, weight] pairs).
function flatten(table) {
  const n = table.length, start = new Int32Array(n + 1);
  let total = 0;
  for (let d = 0; d < n; d++) { start[d] = total; total += table[d].length; }
  start[n] = total;
  const index = new Int32Array(total), weight = new Float32Array(total);
  let k = 0;
  for (const taps of table) for (const [s, w] of taps) { index[k] = s; weight[k++] = w; }
  return { n, start, index, weight };
}

// Resize an RGB (3 bytes per pixel) region with per-axis tap tables; returns Float32 RGB rounded to bytes.
function resample(rgb, stride, x0, y0, xTable, yTable) {
  const X = flatten(xTable), Y = flatten(yTable);
  const dw = X.n, dh = Y.n;
  const out = new Float32Array(dw * dh * 3), row = new Float32Array(dw * 3);
  const xOffset = new Int32Array(X.index.length);
  for (let k = 0; k < xOffset.length; k++) xOffset[k] = (x0 + X.index[k]) * 3;
  let o = 0;
  for (let dy = 0; dy < dh; dy++) {
    row.fill(0);
    for (let ky = Y.start[dy]; ky < Y.start[dy + 1]; ky++) {
      const base = (y0 + Y.index[ky]) * stride, wy = Y.weight[ky];
      let r = 0;
      for (let dx = 0; dx < dw; dx++) {
        let a = 0, b = 0, c = 0;
        for (let kx = X.start[dx]; kx < X.start[dx + 1]; kx++) {
          const i = base + xOffset[kx], wx = X.weight[kx];
          a += wx * rgb[i]; b += wx * rgb[i + 1]; c += wx * rgb[i + 2];
        }
        row[r++] += wy * a; row[r++] += wy * b; row[r++] += wy * c;
      }
    }
    for (let i = 0; i < row.length; i++) {
      const v = Math.round(row[i]);
      out[o++] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

// Shrinking by a whole factor k in both directions: the mean of each k x k block, rounded
// (cv::resize's fast area path); a webcam frame halved for the detector takes this way.
function blockMean(rgb, stride, x0, y0, dw, dh, k) {
  const out = new Float32Array(dw * dh * 3), norm = 1 / (k * k);
  let o = 0;
  for (let dy = 0; dy < dh; dy++) {
    for (let dx = 0; dx < dw; dx++) {
      let a = 0, b = 0, c = 0;
      for (let y = 0; y < k; y++) {
        let i = (y0 + dy * k + y) * stride + (x0 + dx * k) * 3;
        for (let x = 0; x < k; x++, i += 3) { a += rgb[i]; b += rgb[i + 1]; c += rgb[i + 2]; }
      }
      out[o++] = Math.round(a * norm); out[o++] = Math.round(b * norm); out[o++] = Math.round(c * norm);
    }
  }
  return out;
}

export function resizeRgb(rgb, stride, x0, y0, w, h, dw, dh, area) {
  const k = w / dw;
  if (area && Number.isInteger(k) && k >= 2 && h === dh * k) return blockMean(rgb, stride, x0, y0, dw, dh, k);
  const table = area ? areaTable : linearTable;
  return resample(rgb, stride, x0, y0, table(w, dw), table(h, dh));
}

// OpenCV's dnn.NMSBoxes: best score first, a box kept unless it overlaps a kept one by more than `iou`.
export function nms(boxes, scores, iou) {
  const order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const keep = [];
  for (const i of order) {
    if (!(scores[i] > 0)) continue;
    const [ax1, ay1, ax2, ay2] = boxes[i];
    const areaA = (ax2 - ax1) * (ay2 - ay1);
    let ok = true;
    for (const j of keep) {
      const [bx1, by1, bx2, by2] = boxes[j];
      const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1), ih = Math.min(ay2, by2) - Math.max(ay1, by1);
      if (iw <= 0 || ih <= 0) continue;
      const inter = iw * ih;
      if (inter / (areaA + (bx2 - bx1) * (by2 - by1) - inter) > iou) { ok = false; break; }
    }
    if (ok) keep.push(i);
  }
  return keep;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export class MaskPipeline {
  constructor(detector, classifier, config) {
    this.detector = detector;
    this.classifier = classifier;
    this.config = config;
    this.networkMs = 0;
  }

  // faces of one frame: `pixels` RGBA (ImageData.data) or RGB bytes, width x height
  async process(pixels, width, height) {
    const t0 = performance.now();
    this.networkMs = 0;
    const rgb = pixels.length === width * height * 4 ? dropAlpha(pixels) : pixels;
    if (rgb.length !== width * height * 3) throw new Error(`a ${width}x${height} frame needs ${width * height * 3} RGB bytes`);
    const detections = await this.detect(rgb, width, height);
    const t1 = performance.now(), detectNet = this.networkMs;
    const faces = await this.classify(rgb, width, height, detections);
    const t2 = performance.now();
    // where the time went: the networks, and the page's own pre- and post-processing
    return { faces, timings: { detect_ms: t1 - t0, classify_ms: t2 - t1, total_ms: t2 - t0,
      detect_network_ms: detectNet, classify_network_ms: this.networkMs - detectNet } };
  }

  async detect(rgb, w, h) {
    const d = this.config.detector;
    const scale = Math.min(d.reliable_px / d.min_face, Math.sqrt(d.max_pixels / (h * w)));
    let [boxes, scores] = await this.pass(rgb, w, h, scale);
    if (d.zoom && boxes.length >= d.zoom_min_faces) {
      const sizes = boxes.map(([x1, y1, x2, y2]) => Math.sqrt((x2 - x1) * (y2 - y1)));
      if (median(sizes) < d.zoom_below) {
        const closer = Math.min(scale * d.zoom, Math.sqrt(d.zoom_max_pixels / (h * w)));
        if (closer > scale * 1.2) {
          const [more, moreScores] = await this.pass(rgb, w, h, closer);
          boxes = boxes.concat(more);
          scores = scores.concat(moreScores);
          const keep = nms(boxes, scores, d.nms_iou);
          boxes = keep.map((i) => boxes[i]);
          scores = keep.map((i) => scores[i]);
        }
      }
    }
    return clipBoxes(boxes, scores, w, h, d.min_inside);
  }

  async pass(rgb, w, h, scale) {
    const d = this.config.detector;
    const sw = Math.max(1, roundHalfEven(w * scale)), sh = Math.max(1, roundHalfEven(h * scale));
    // shrinking as cv2.INTER_AREA; the kernel enlarges with Lanczos and a mild unsharp mask,
    // the page bilinearly (live frames are shrunk: a webcam's faces are large)
    const image = sw === w && sh === h ? Float32Array.from(rgb) : resizeRgb(rgb, w * 3, 0, 0, w, h, sw, sh, scale < 1);
    const ph = Math.ceil(sh / 32) * 32, pw = Math.ceil(sw / 32) * 32;
    const blob = new Float32Array(3 * ph * pw);
    for (let y = 0; y < sh; y++) {
      for (let x = 0; x < sw; x++) {
        const i = (y * sw + x) * 3, o = y * pw + x;
        blob[o] = image[i]; blob[ph * pw + o] = image[i + 1]; blob[2 * ph * pw + o] = image[i + 2];
      }
    }
    const feeds = { [d.input]: new ort.Tensor("float32", blob, [1, 3, ph, pw]) };
    const t = performance.now();
    const out = await this.detector.run(feeds);
    this.networkMs += performance.now() - t;
    const heat = out[d.outputs[0]], size = out[d.outputs[1]], offset = out[d.outputs[2]];
    const [, , hh, hw] = heat.dims;
    const plane = hh * hw;
    const boxes = [], scores = [];
    for (let y = 0; y < hh; y++) {
      for (let x = 0; x < hw; x++) {
        const k = y * hw + x, s = heat.data[k];
        if (!(s > d.threshold)) continue;
        const bh = Math.exp(size.data[k]) * 4, bw = Math.exp(size.data[plane + k]) * 4;
        const x1 = (x + offset.data[plane + k] + 0.5) * 4 - bw / 2;
        const y1 = (y + offset.data[k] + 0.5) * 4 - bh / 2;
        boxes.push([x1 / scale, y1 / scale, (x1 + bw) / scale, (y1 + bh) / scale]);
        scores.push(s);
      }
    }
    const keep = nms(boxes, scores, d.nms_iou);
    return [keep.map((i) => boxes[i]), keep.map((i) => scores[i])];
  }

  async classify(rgb, w, h, detections) {
    return this.classifyCrops(this.crops(rgb, w, h, detections), detections);
  }

  // the detected faces cut with the card's margin and squashed to the input size, as one batch
  crops(rgb, w, h, detections) {
    const c = this.config.classifier, size = c.input_size;
    const batch = new Float32Array(detections.length * size * size * 3);
    detections.forEach(({ box }, i) => {
      const [x1, y1, x2, y2] = expandBox(box, c.margin, w, h);
      const cw = x2 - x1, ch = y2 - y1;
      const area = ch >= size && cw >= size;  // kit.vision.imagesets.resize_square
      batch.set(resizeRgb(rgb, w * 3, x1, y1, cw, ch, size, size, area), i * size * size * 3);
    });
    return batch;
  }

  async classifyCrops(batch, detections) {
    const c = this.config.classifier;
    const n = detections.length, size = c.input_size;
    if (!n) return [];
    const t = performance.now();
    const out = await this.classifier.run({ [c.input]: new ort.Tensor("float32", batch, [n, size, size, 3]) });
    this.networkMs += performance.now() - t;
    const probs = out[c.output].data, k = c.classes.length;
    return detections.map(({ box, score }, i) => {
      const p = decide(Array.from(probs.slice(i * k, (i + 1) * k)), c.decision_bias);
      let best = 0;
      for (let j = 1; j < k; j++) if (p[j] > p[best]) best = j;
      return { box, label: c.classes[best], prob: p[best], score };
    });
  }
}

function dropAlpha(rgba) {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4) {
    rgb[o++] = rgba[i]; rgb[o++] = rgba[i + 1]; rgb[o++] = rgba[i + 2];
  }
  return rgb;
}

// kit.vision.faces.detectors.clip_boxes
function clipBoxes(boxes, scores, width, height, minInside) {
  const out = [];
  boxes.forEach(([x1, y1, x2, y2], i) => {
    const score = scores[i];
    if (![x1, y1, x2, y2, score].every(Number.isFinite) || x2 <= x1 || y2 <= y1) return;
    const area = (x2 - x1) * (y2 - y1);
    const cx1 = Math.max(0, x1), cy1 = Math.max(0, y1), cx2 = Math.min(width, x2), cy2 = Math.min(height, y2);
    if (cx2 - cx1 < 2 || cy2 - cy1 < 2 || (cx2 - cx1) * (cy2 - cy1) < minInside * area) return;
    out.push({ box: [cx1, cy1, cx2, cy2].map(roundHalfEven), score });
  });
  return out;
}

// kit.vision.imagesets.expand_box
function expandBox([x1, y1, x2, y2], margin, width, height) {
  const mx = (x2 - x1) * margin, my = (y2 - y1) * margin;
  return [Math.max(0, roundHalfEven(x1 - mx)), Math.max(0, roundHalfEven(y1 - my)),
    Math.min(width, roundHalfEven(x2 + mx)), Math.min(height, roundHalfEven(y2 + my))];
}

// kit.vision.cards.ModelCard.decide: log-probabilities plus the card's bias, renormalised
function decide(p, bias) {
  if (!bias) return p;
  const logits = p.map((v, j) => Math.log(Math.max(v, 1e-12)) + bias[j]);
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// ---------------------------------------------------------------- in workers
// The page's main thread stays free for the camera, the drawing and the kernel's messages
// (a reply waiting behind 100 ms of inference would be 100 ms late), and the two networks
// run in two workers, one stage each, so that frame n is classified while frame n + 1 is
// searched for faces: two cores instead of one. The same module, started as a worker,
// answers {type: "init"}, {type: "detect"} and {type: "classify"} messages.
const IN_WORKER = typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope;
if (IN_WORKER) {
  let pipeline = null;
  self.onmessage = async ({ data }) => {
    try {
      if (data.type === "init") {
        pipeline = await createPipeline(data);
        self.postMessage({ type: "ready" });
      } else if (data.type === "detect") {
        Object.assign(pipeline.config.detector, data.settings || {});
        const t0 = performance.now();
        pipeline.networkMs = 0;
        const px = new Uint8Array(data.pixels);
        const rgb = px.length === data.width * data.height * 4 ? dropAlpha(px) : px;
        const detections = await pipeline.detect(rgb, data.width, data.height);
        const batch = pipeline.crops(rgb, data.width, data.height, detections);
        self.postMessage({ type: "detected", id: data.id, detections, batch,
          detect_ms: performance.now() - t0, detect_network_ms: pipeline.networkMs }, [batch.buffer]);
      } else if (data.type === "classify") {
        const t0 = performance.now();
        pipeline.networkMs = 0;
        const faces = await pipeline.classifyCrops(new Float32Array(data.batch), data.detections);
        self.postMessage({ type: "classified", id: data.id, faces, classify_ms: performance.now() - t0,
          classify_network_ms: pipeline.networkMs });
      }
    } catch (err) {
      self.postMessage({ type: "error", id: data.id, message: String((err && err.message) || err) });
    }
  };
}

function startWorker(moduleUrl, init) {
  const worker = new Worker(moduleUrl, { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.type === "ready" ? resolve(worker) : reject(new Error(data.message)));
    worker.onerror = (e) => reject(new Error(e.message || "a worker could not start"));
    worker.postMessage({ type: "init", ...init });
  });
}

// The pipeline in two workers started from this module's own address (a blob: URL in a
// widget): process() as MaskPipeline's, and up to two frames may be on their way at once.
export class StagedPipeline {
  static async start(moduleUrl, { wasm, detector, classifier, config }) {
    const [find, label] = await Promise.all([
      startWorker(moduleUrl, { wasm, detector, classifier: null, config }),
      startWorker(moduleUrl, { wasm, detector: null, classifier, config }),
    ]);
    return new StagedPipeline(find, label, config);
  }

  constructor(find, label, config) {
    this.find = find;
    this.label = label;
    this.config = config;
    this.waiting = new Map();
    this.next = 0;
    find.onmessage = ({ data }) => {
      const job = this.waiting.get(data.id);
      if (!job) return;
      if (data.type !== "detected") { this.fail(data); return; }
      Object.assign(job.timings, { detect_ms: data.detect_ms, detect_network_ms: data.detect_network_ms });
      label.postMessage({ type: "classify", id: data.id, batch: data.batch.buffer, detections: data.detections },
        [data.batch.buffer]);
    };
    label.onmessage = ({ data }) => {
      const job = this.waiting.get(data.id);
      if (!job) return;
      if (data.type !== "classified") { this.fail(data); return; }
      this.waiting.delete(data.id);
      Object.assign(job.timings, { classify_ms: data.classify_ms, classify_network_ms: data.classify_network_ms,
        total_ms: performance.now() - job.start });
      job.resolve({ faces: data.faces, timings: job.timings });
    };
  }

  fail(data) {
    const job = this.waiting.get(data.id);
    this.waiting.delete(data.id);
    job.reject(new Error(data.message));
  }

  // `pixels` (an ImageData's data, RGBA) is handed over to the worker
  process(pixels, width, height) {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, start: performance.now(), timings: {} });
      const settings = { threshold: this.config.detector.threshold, min_face: this.config.detector.min_face };
      this.find.postMessage({ type: "detect", id, pixels: pixels.buffer, width, height, settings }, [pixels.buffer]);
    });
  }

  get busy() {
    return this.waiting.size;
  }

  terminate() {
    this.find.terminate();
    this.label.terminate();
  }
}
