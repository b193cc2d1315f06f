// Webcam mask detector front end.
// getUserMedia -> a hidden <video>; on each animation frame, if no frame is in flight, the
// video is drawn into a canvas, kept, encoded as JPEG and sent to the kernel as a binary
// buffer. At most one frame is in flight: while waiting, frames are dropped, never queued.
// When the answer comes, the kept frame is shown with its boxes: a box is always drawn on
// the picture it was computed for. FPS counts answered frames only; latency is the round
// trip from sending a frame to drawing its answer. The classes' names and colours come from
// the kernel (kit.vision.labels): the page never restates them.
const RATE_WINDOW_MS = 10000;  // answers counted for the rate: slow servers still get a number
const WAITING_MS = 3000;       // no answer for this long while streaming: say so

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
      <label>detector <select class="detector"></select></label>
      <label>threshold <input class="threshold" type="range" min="0.05" max="0.95" step="0.05"></label>
      <span class="thr-value"></span>
      <label class="upload">or upload an image/video <input class="file" type="file" accept="image/*,video/*"></label>
    </div>
    <div class="message" role="status"></div>
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
  const labels = () => model.get("labels") || {};
  const colour = (k) => (labels()[k] || {}).colour || "#ccc";
  const shown = (k) => (labels()[k] || {}).name || k;

  const select = $(".detector");
  for (const d of model.get("detectors")) {
    const o = document.createElement("option"); o.value = o.textContent = d; select.appendChild(o);
  }
  select.value = model.get("detector");
  select.onchange = () => { model.set("detector", select.value); model.save_changes(); };
  const thr = $(".threshold");
  thr.value = model.get("threshold"); $(".thr-value").textContent = Number(thr.value).toFixed(2);
  thr.oninput = () => {
    $(".thr-value").textContent = Number(thr.value).toFixed(2);
    model.set("threshold", parseFloat(thr.value)); model.save_changes();
  };

  function say(text) { message.textContent = text || ""; }

  function clearView() {
    const ctx = view.getContext("2d");
    ctx.clearRect(0, 0, view.width, view.height);
    view.classList.add("empty");
    $(".hint").hidden = false;
    $(".stats").hidden = true;
  }

  function showAnswer(faces, width, height) {
    view.width = kept.width; view.height = kept.height;
    view.classList.remove("empty");
    $(".hint").hidden = true;
    $(".stats").hidden = false;
    const ctx = view.getContext("2d");
    ctx.drawImage(kept, 0, 0);
    const sx = kept.width / width, sy = kept.height / height;
    const line = Math.max(2, Math.round(kept.width / 240));
    ctx.lineWidth = line; ctx.font = `bold ${Math.max(12, Math.round(kept.width / 45))}px system-ui, sans-serif`;
    for (const f of faces) {
      const [x1, y1, x2, y2] = f.box, c = colour(f.label);
      ctx.strokeStyle = c; ctx.fillStyle = c;
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      const who = f.track !== undefined ? `#${f.track} ` : "";
      ctx.fillText(`${who}${shown(f.label)} ${Math.round(f.prob * 100)}%`, x1 * sx, Math.max(14, y1 * sy - 6));
    }
  }

  function sendFrame(source, width, height) {
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
    if (!single && sentAt && since > WAITING_MS) {
      $(".stats").hidden = false;
      $(".fps").textContent = `waiting for the server (${Math.round(since / 1000)} s since the last answer)`;
    }
    if (video.readyState >= 2 && video.videoWidth) sendFrame(video, video.videoWidth, video.videoHeight);
    requestAnimationFrame(loop);
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
    $(".latency").textContent = p50 === null ? "latency –"
      : `latency p50 ${Math.round(p50)} ms · p95 ${Math.round(p95)} ms`;
  }

  model.on("msg:custom", (msg) => {
    if (!msg || (msg.id !== sentId && msg.id !== null)) return;  // an answer to a frame we gave up on
    inFlight = false;
    if (!running && !single) return;  // stopped while the frame was in flight: the stage stays cleared
    const now = performance.now();
    if (msg.type === "error") { say(msg.message); return; }
    if (msg.type !== "result") return;
    say("");
    lastAnswer = now;
    latencies.push(now - sentAt); if (latencies.length > 200) latencies.shift();
    root.dataset.results = String(Number(root.dataset.results || 0) + 1);
    root.dataset.latencies = JSON.stringify(latencies.slice(-200).map(Math.round));
    showAnswer(msg.faces, msg.width, msg.height);
    updateStats(now);
    $(".people").textContent = single ? "" : `people seen ${msg.people} · `;
    const counts = $(".counts"); counts.textContent = "";
    for (const [k, v] of Object.entries(msg.counts)) {  // text nodes: nothing from a message becomes markup
      const span = document.createElement("span");
      span.className = "count"; span.style.color = colour(k); span.textContent = `${shown(k)}: ${v}`;
      counts.appendChild(span);
    }
  });

  function resetStats() {
    stamps = []; latencies = []; inFlight = false; lastAnswer = 0; sentAt = 0;
    $(".fps").textContent = "waiting for the first answer"; $(".latency").textContent = "latency –";
    $(".people").textContent = ""; $(".counts").textContent = "";
    model.send({ type: "reset" });
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
    running = true; $(".start").disabled = true; $(".stop").disabled = false; say("");
    loop();
  }

  function stopStream() {
    running = false; inFlight = false;
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
      img.onload = () => { inFlight = false; sendFrame(img, img.naturalWidth, img.naturalHeight); URL.revokeObjectURL(url); };
      img.onerror = () => say(`${file.name} is not an image the browser can show`);
      img.src = url;
    }
  };
  clearView();
  return () => stopStream();
}

export default { render };
