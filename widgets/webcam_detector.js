// Webcam mask detector front end.
// getUserMedia -> a hidden <video>; on each animation frame, if no frame is being answered,
// the video is drawn into a canvas and kept. Run on this device (the default): the page's
// pipeline (widgets/page_inference, ONNX Runtime Web) finds and labels the faces, the kept
// frame is shown with them, and only the detections go to the kernel, which follows faces
// into people and answers with the counts. Run on the server: the frame goes to the kernel
// as a JPEG and its answer carries the faces. Either way at most one frame is being
// answered: while waiting, frames are dropped, never queued, and a box is always drawn on
// the picture it was computed for. FPS counts answered frames only; latency is the round
// trip to the kernel (detections or the frame) until its answer. The classes' names and
// colours come from the kernel (kit.vision.labels): the page never restates them.
const RATE_WINDOW_MS = 10000;  // answers counted for the rate: slow servers still get a number
const WAITING_MS = 3000;       // no answer for this long while streaming: say so
const MAX_PENDING = 4;         // detections sent and not yet answered; more: this frame's are not sent
const CACHE_DB = "kit-page-inference";  // IndexedDB: the page's files by sha256, kept between visits

// wasm-feature-detect's SIMD probe (the same as the pipeline's, which is not loaded yet)
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);
function simdSupported() {
  try { return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE); } catch (e) { return false; }
}

function openCache() {
  return new Promise((resolve) => {
    if (!globalThis.indexedDB) { resolve(null); return; }
    const request = indexedDB.open(CACHE_DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("files");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);  // private windows may refuse: then files come every visit
  });
}
function cacheGet(db, key) {
  return new Promise((resolve) => {
    if (!db) { resolve(null); return; }
    const request = db.transaction("files").objectStore("files").get(key);
    request.onsuccess = () => resolve(request.result || null);
    request.onerror = () => resolve(null);
  });
}
function cachePut(db, key, value) {
  return new Promise((resolve) => {
    if (!db) { resolve(); return; }
    const tx = db.transaction("files", "readwrite");
    tx.objectStore("files").put(value, key);
    tx.oncomplete = tx.onerror = tx.onabort = () => resolve();
  });
}
async function sha256Hex(bytes) {
  if (!(globalThis.crypto && crypto.subtle)) return null;  // only in secure contexts (https, localhost)
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function percentile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "kit-cam";
  root.innerHTML = `
    <div class="bar">
      <button class="start">Start camera</button>
      <button class="stop" disabled>Stop</button>
      <label>run on <select class="runon"><option value="device">this device</option>
        <option value="server">the server</option></select></label>
      <label>detector <select class="detector"></select></label>
      <label>threshold <input class="threshold" type="range" min="0.05" max="0.95" step="0.05"></label>
      <span class="thr-value"></span>
      <label class="upload">or upload an image/video <input class="file" type="file" accept="image/*,video/*"></label>
    </div>
    <div class="message" role="status"></div>
    <div class="loading" hidden></div>
    <div class="stage"><canvas class="view"></canvas><video class="video" playsinline muted></video>
      <div class="hint">Press <b>Start camera</b> to look for masks on your own camera (the browser asks first),
        or upload an image or a video. Faces are boxed and labelled here; people are counted below.</div></div>
    <div class="stats" hidden><span class="fps">answered frames –</span> · <span class="latency">latency –</span> ·
      <span class="people"></span><span class="counts"></span></div>`;
  el.appendChild(root);
  const $ = (s) => root.querySelector(s);
  const video = $(".video"), view = $(".view"), message = $(".message");
  const grab = document.createElement("canvas");
  const kept = document.createElement("canvas");  // the pixels of the frame in flight
  let stream = null, running = false, inFlight = false, frameId = 0, sentAt = 0, sentId = 0;
  let stamps = [], latencies = [], single = false, lastAnswer = 0;
  let pipeline = null, loading = null, shownAt = 0;
  const pending = new Map();  // detections sent to the kernel: id -> when
  const waiters = new Map();  // page files asked of the kernel: name -> resolve
  const labels = () => model.get("labels") || {};
  const colour = (k) => (labels()[k] || {}).colour || "#ccc";
  const shown = (k) => (labels()[k] || {}).name || k;

  const select = $(".detector");
  for (const d of model.get("detectors")) {
    const o = document.createElement("option"); o.value = o.textContent = d; select.appendChild(o);
  }
  select.value = model.get("detector");
  select.onchange = () => { model.set("detector", select.value); model.save_changes(); };
  const runOn = $(".runon");
  const device = () => model.get("run_on") === "device";
  function showMode() {
    runOn.value = model.get("run_on");
    runOn.querySelector('option[value="device"]').disabled = !Object.keys(model.get("page_assets") || {}).length;
    select.disabled = device();  // the page runs CenterFace; the other detectors run on the server
    select.title = device() ? "this device runs centerface; choose 'run on: the server' for the others" : "";
    if (device()) select.value = "centerface";
  }
  runOn.onchange = () => {
    model.set("run_on", runOn.value); model.save_changes();
    if (runOn.value === "server" && select.value !== model.get("detector")) select.value = model.get("detector");
    resetStats();
  };
  model.on("change:run_on", showMode);
  showMode();
  if (device() && !simdSupported()) {
    model.set("run_on", "server"); model.save_changes(); showMode();
    message.dataset.note = "This browser cannot run WebAssembly SIMD, so the server detects.";
  }

  // The page's pipeline: its four files from the browser's cache, or asked of the kernel once.
  async function pageFile(db, name, spec, got) {
    let bytes = await cacheGet(db, spec.sha256);
    if (!bytes) {  // in chunks, the next asked for when one arrives (the kernel's ASSET_CHUNK)
      const whole = new Uint8Array(spec.bytes);
      let offset = 0;
      while (offset < spec.bytes) {
        const chunk = await new Promise((resolve) => { waiters.set(name, resolve); model.send({ type: "asset", name, offset }); });
        if (!chunk.byteLength || offset + chunk.byteLength > spec.bytes) throw new Error(`${name}: a damaged chunk`);
        whole.set(new Uint8Array(chunk), offset);
        offset += chunk.byteLength;
        loadingText(`Loading the detector into this page: ${((got.bytes + offset) / 1e6).toFixed(1)} of `
          + `${(got.total / 1e6).toFixed(1)} MB`);
      }
      bytes = whole.buffer;
      if (bytes.byteLength !== spec.bytes) throw new Error(`${name}: ${bytes.byteLength} bytes, expected ${spec.bytes}`);
      const hex = await sha256Hex(bytes);
      if (hex !== null && hex !== spec.sha256) throw new Error(`${name}: damaged on the way (sha256 differs)`);
      await cachePut(db, spec.sha256, bytes);
      got.downloaded += bytes.byteLength;
    }
    got.bytes += bytes.byteLength;
    loadingText(`Loading the detector into this page: ${(got.bytes / 1e6).toFixed(1)} of ${(got.total / 1e6).toFixed(1)} MB`
      + (got.downloaded ? "" : " (kept by this browser from an earlier visit)"));
    return new Uint8Array(bytes);
  }
  function loadPipeline() {
    if (!loading) {
      loading = (async () => {
        const assets = model.get("page_assets"), config = model.get("page_config");
        const got = { bytes: 0, downloaded: 0, total: Object.values(assets).reduce((a, s) => a + s.bytes, 0) };
        const db = await openCache();
        const files = {};
        for (const name of ["module", "wasm", "detector", "classifier"]) files[name] = await pageFile(db, name, assets[name], got);
        const url = URL.createObjectURL(new Blob([files.module], { type: "text/javascript" }));
        const mod = await import(url);
        const parts = { wasm: await mod.gunzip(files.wasm), detector: files.detector, classifier: files.classifier,
          config: structuredClone(config) };
        try {  // in a worker, so that the kernel's answers are not kept waiting behind the networks
          pipeline = await mod.StagedPipeline.start(url, parts);
          root.dataset.worker = "two stages";
        } catch (err) {
          pipeline = await mod.createPipeline(parts);
          root.dataset.worker = `no (${err.message || err})`;
        }
        root.dataset.downloaded = String(got.downloaded);
        loadingText("");
        return pipeline;
      })().catch((err) => {
        loading = null;
        loadingText("");
        say(`The detector could not start in this page (${err.message || err}); the server detects instead.`);
        model.set("run_on", "server"); model.save_changes();
        throw err;
      });
    }
    return loading;
  }
  const thr = $(".threshold");
  thr.value = model.get("threshold"); $(".thr-value").textContent = Number(thr.value).toFixed(2);
  thr.oninput = () => {
    $(".thr-value").textContent = Number(thr.value).toFixed(2);
    model.set("threshold", parseFloat(thr.value)); model.save_changes();
  };

  function say(text) { message.textContent = text || ""; }
  function loadingText(text) { const el = $(".loading"); el.textContent = text; el.hidden = !text; }

  function clearView() {
    const ctx = view.getContext("2d");
    ctx.clearRect(0, 0, view.width, view.height);
    view.classList.add("empty");
    $(".hint").hidden = false;
    $(".stats").hidden = true;
  }

  function showAnswer(faces, width, height, source = kept) {
    view.width = source.width; view.height = source.height;
    view.classList.remove("empty");
    $(".hint").hidden = true;
    $(".stats").hidden = false;
    const ctx = view.getContext("2d");
    ctx.drawImage(source, 0, 0);
    const sx = source.width / width, sy = source.height / height;
    const line = Math.max(2, Math.round(source.width / 240));
    ctx.lineWidth = line; ctx.font = `bold ${Math.max(12, Math.round(source.width / 45))}px system-ui, sans-serif`;
    for (const f of faces) {
      const [x1, y1, x2, y2] = f.box, c = colour(f.label);
      ctx.strokeStyle = c; ctx.fillStyle = c;
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      const who = f.track !== undefined ? `#${f.track} ` : "";
      ctx.fillText(`${who}${shown(f.label)} ${Math.round(f.prob * 100)}%`, x1 * sx, Math.max(14, y1 * sy - 6));
    }
  }

  // Device mode: frames' detections gathered and sent together every report_ms (the
  // kernel's cost is per message); at most MAX_PENDING messages unanswered.
  let gathered = [], lastReport = 0, messageId = 0, ages = [];
  function report(now) {
    if (!gathered.length || now - lastReport < model.get("report_ms") || pending.size >= MAX_PENDING) return;
    if (gathered.length > 64) gathered = gathered.slice(-64);  // the most a message may carry
    const faces = gathered.reduce((n, f) => n + f.rows.length, 0);
    const rows = new Float32Array(faces * 7);
    let k = 0;
    for (const f of gathered) for (const r of f.rows) { rows.set(r, k); k += 7; }
    messageId += 1;
    pending.set(messageId, { sent: now, frames: gathered.map((f) => [f.id, f.at]) });
    model.send({ type: "detections", id: messageId,
      frames: gathered.map((f) => ({ id: f.id, width: f.width, height: f.height, faces: f.rows.length })) },
      undefined, [rows.buffer]);
    gathered = []; lastReport = now;
  }
  let session = 0;  // a new one at every Start, Stop and upload: answers for an older one are not shown
  let inPage = 0;  // frames the page's pipeline is answering (two stages: up to two at once)
  async function detectHere(source, width, height) {
    const limit = pipeline && pipeline.busy !== undefined ? 2 : 1;
    if (inPage >= limit || !width || !height) return;  // drop, never queue
    inPage += 1;
    try {
      const p = pipeline || await loadPipeline();
      const scale = Math.min(1, model.get("max_width") / width);
      grab.width = Math.round(width * scale); grab.height = Math.round(height * scale);
      const ctx = grab.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(source, 0, 0, grab.width, grab.height);
      const w = grab.width, h = grab.height;
      const image = ctx.getImageData(0, 0, w, h);
      const frame = await createImageBitmap(image);  // this frame's pixels: the buffer goes to the worker
      p.config.detector.threshold = model.get("threshold");
      p.config.detector.min_face = model.get("min_face");
      const started = session;
      const result = await p.process(image.data, w, h);
      if (started !== session || (!running && !single)) { frame.close(); return; }  // stopped meanwhile
      const now = performance.now();
      lastAnswer = now;
      root.dataset.results = String(Number(root.dataset.results || 0) + 1);
      root.dataset.pageMs = String(Math.round(result.timings.total_ms));
      root.dataset.timings = JSON.stringify(result.timings);
      showAnswer(result.faces, w, h, frame);
      frame.close();
      updateStats(now);
      const classes = p.config.classifier.classes;
      if (!single) {
        frameId += 1;
        gathered.push({ id: frameId, width: w, height: h, at: now,
          rows: result.faces.map((f) => [...f.box, f.score, classes.indexOf(f.label), f.prob]) });
        report(now);
      }
      if (single) counts(Object.fromEntries(classes.map((c) => [c, result.faces.filter((f) => f.label === c).length])));
    } catch (err) {
      if (device()) say(`detection in this page failed: ${err.message || err}`);
    } finally {
      inPage -= 1;
    }
  }

  function sendFrame(source, width, height) {
    if (device()) { detectHere(source, width, height); return; }
    if (inFlight || !width || !height) return;  // drop, never queue
    const scale = Math.min(1, model.get("max_width") / width);
    grab.width = Math.round(width * scale); grab.height = Math.round(height * scale);
    grab.getContext("2d").drawImage(source, 0, 0, grab.width, grab.height);
    inFlight = true;
    grab.toBlob(async (blob) => {
      if (!blob) { inFlight = false; return; }
      kept.width = grab.width; kept.height = grab.height;
      kept.getContext("2d").drawImage(grab, 0, 0);
      const buffer = await blob.arrayBuffer();
      frameId += 1; sentId = frameId; sentAt = performance.now();
      model.send({ type: "frame", id: frameId, track: !single }, undefined, [buffer]);
    }, "image/jpeg", 0.85);
  }

  function loop() {
    if (!running) return;
    const now = performance.now();
    if (inFlight && sentAt && now - sentAt > 5000) inFlight = false;  // an answer that never came
    const since = now - (lastAnswer || sentAt || now);
    if (!device() && !single && sentAt && since > WAITING_MS) {
      $(".stats").hidden = false;
      $(".fps").textContent = `waiting for the server (${Math.round(since / 1000)} s since the last answer)`;
    }
    if (video.readyState >= 2 && video.videoWidth) sendFrame(video, video.videoWidth, video.videoHeight);
    if (device()) report(now);  // gathered detections leave on time even between answered frames
    requestAnimationFrame(loop);
  }

  function counts(values) {
    const el = $(".counts"); el.textContent = "";
    for (const [k, v] of Object.entries(values)) {  // text nodes: nothing from a message becomes markup
      const span = document.createElement("span");
      span.className = "count"; span.style.color = colour(k); span.textContent = `${shown(k)}: ${v}`;
      el.appendChild(span);
    }
  }

  function updateStats(now) {
    if (single) {
      $(".fps").textContent = "one image";
    } else {
      stamps.push(now); stamps = stamps.filter((t) => now - t < RATE_WINDOW_MS);
      // the rate of answers however slow: over the window, or from the last two answers
      const span = stamps.length > 1 ? (stamps[stamps.length - 1] - stamps[0]) / 1000 : null;
      const fps = span ? (stamps.length - 1) / span : null;
      $(".fps").textContent = fps === null ? "first answer"
        : `${fps >= 1 ? fps.toFixed(1) : fps.toFixed(2)} answered frames/s`;
    }
    const p50 = percentile(latencies, 0.5), p95 = percentile(latencies, 0.95);
    const where = device() ? ` · detected on this device in ${root.dataset.pageMs} ms; people counted every `
      + `${model.get("report_ms")} ms` : "";
    $(".latency").textContent = (p50 === null ? "latency –"
      : `latency p50 ${Math.round(p50)} ms · p95 ${Math.round(p95)} ms`) + where;
  }

  model.on("msg:custom", (msg, buffers) => {
    if (!msg) return;
    if (msg.type === "asset") {
      const resolve = waiters.get(msg.name);
      if (resolve && buffers && buffers.length) {
        waiters.delete(msg.name);
        const b = buffers[0];
        resolve(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      }
      return;
    }
    if (msg.type === "tracked") {  // the kernel followed this device's faces into people
      const sent = pending.get(msg.id);
      if (sent === undefined) return;
      pending.delete(msg.id);
      const now = performance.now();
      // the round trip: detections sent -> people counted; and how old each frame's count is
      // when it arrives (the round trip plus the time it waited to be sent with others)
      latencies.push(now - sent.sent); if (latencies.length > 200) latencies.shift();
      root.dataset.latencies = JSON.stringify(latencies.slice(-200).map(Math.round));
      for (const [, at] of sent.frames) { ages.push(now - at); if (ages.length > 200) ages.shift(); }
      root.dataset.ages = JSON.stringify(ages.map(Math.round));
      root.dataset.tracked = String(Number(root.dataset.tracked || 0) + sent.frames.length);
      root.dataset.messages = String(Number(root.dataset.messages || 0) + 1);
      $(".people").textContent = `people seen ${msg.people} · `;
      counts(msg.counts);
      return;
    }
    if (msg.type === "error" && device()) { pending.delete(msg.id); say(msg.message); return; }
    if (msg.id !== sentId && msg.id !== null) return;  // an answer to a frame we gave up on
    inFlight = false;
    if (!running && !single) return;  // stopped while the frame was in flight: the stage stays cleared
    const now = performance.now();
    if (msg.type === "error") { say(msg.message); return; }
    if (msg.type !== "result") return;
    say(message.dataset.note || "");
    lastAnswer = now;
    latencies.push(now - sentAt); if (latencies.length > 200) latencies.shift();
    root.dataset.results = String(Number(root.dataset.results || 0) + 1);
    root.dataset.latencies = JSON.stringify(latencies.slice(-200).map(Math.round));
    showAnswer(msg.faces, msg.width, msg.height);
    updateStats(now);
    $(".people").textContent = single ? "" : `people seen ${msg.people} · `;
    counts(msg.counts);
  });

  function resetStats() {
    stamps = []; latencies = []; inFlight = false; lastAnswer = 0; sentAt = 0; pending.clear(); gathered = [];
    ages = [];
    $(".fps").textContent = "waiting for the first answer"; $(".latency").textContent = "latency –";
    $(".people").textContent = ""; $(".counts").textContent = "";
    model.send({ type: "reset" });
    say(message.dataset.note || "");
  }

  async function start() {
    stopStream();
    single = false;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("This browser gives no camera access here (a secure https:// or localhost page is needed). Upload an image or a video instead.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      const why = err.name === "NotAllowedError" ? "camera permission was denied"
        : err.name === "NotFoundError" ? "no camera was found" : `${err.name}: ${err.message}`;
      say(`Camera not available: ${why}. Allow the camera in the browser, or upload an image or a video instead.`);
      return;
    }
    resetStats();
    video.srcObject = stream; await video.play();
    if (device()) { try { await loadPipeline(); } catch (err) { /* said; the server detects */ } }
    running = true; $(".start").disabled = true; $(".stop").disabled = false; say(message.dataset.note || "");
    loop();
  }

  function stopStream() {
    running = false; inFlight = false; session += 1;
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    if (video.src) { video.pause(); URL.revokeObjectURL(video.src); video.removeAttribute("src"); video.load(); }
    video.srcObject = null;
    $(".start").disabled = false; $(".stop").disabled = true;
  }

  $(".start").onclick = start;
  $(".stop").onclick = () => { stopStream(); clearView(); };
  $(".file").onchange = async () => {
    const file = $(".file").files[0];
    if (!file) return;
    stopStream();
    const url = URL.createObjectURL(file);
    if (file.type.startsWith("video/")) {
      single = false; resetStats();
      video.src = url; video.loop = true;
      try { await video.play(); } catch (err) { say(`cannot play ${file.name}: ${err.message}`); return; }
      running = true; $(".stop").disabled = false; loop();
    } else {
      single = true; resetStats();
      const img = new Image();
      img.onload = async () => {
        inFlight = false;
        if (device()) { try { await loadPipeline(); } catch (err) { /* said */ } }
        sendFrame(img, img.naturalWidth, img.naturalHeight); URL.revokeObjectURL(url);
      };
      img.onerror = () => say(`${file.name} is not an image the browser can show`);
      img.src = url;
    }
  };
  clearView();
  say(message.dataset.note || "");
  // the page's files are fetched when the visitor starts, not as the page appears: a class
  // arriving at once would otherwise hold up each other's pages while they download
  return () => stopStream();
}

export default { render };
