// Webcam mask detector front end.
// getUserMedia -> <video>; every animation frame, if no frame is in flight, the video is
// drawn into a hidden canvas, encoded as JPEG and sent to the kernel as a binary buffer.
// At most one frame is in flight: while waiting, frames are dropped, never queued.
const COLOURS = { with_mask: "#00c800", without_mask: "#e60000", mask_weared_incorrect: "#ffd200" };
const NAMES = { with_mask: "Mask", without_mask: "No Mask", mask_weared_incorrect: "Incorrect" };

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
    <div class="message"></div>
    <div class="stage"><video class="video" playsinline muted></video><img class="shown" hidden><canvas class="overlay"></canvas></div>
    <div class="stats"><span class="fps">FPS –</span> · <span class="latency">latency – ms</span> · <span class="counts"></span></div>`;
  el.appendChild(root);
  const $ = (s) => root.querySelector(s);
  const video = $(".video"), overlay = $(".overlay"), message = $(".message"), shown = $(".shown");
  const grab = document.createElement("canvas");
  let stream = null, running = false, inFlight = false, frameId = 0, sentAt = 0;
  let stamps = [], lastFaces = null, lastSize = null;

  const select = $(".detector");
  for (const d of model.get("detectors")) {
    const o = document.createElement("option"); o.value = o.textContent = d; select.appendChild(o);
  }
  select.value = model.get("detector");
  select.onchange = () => { model.set("detector", select.value); model.save_changes(); };
  const thr = $(".threshold");
  thr.value = model.get("threshold"); $(".thr-value").textContent = thr.value;
  thr.oninput = () => { $(".thr-value").textContent = thr.value; model.set("threshold", parseFloat(thr.value)); model.save_changes(); };

  function say(text) { message.textContent = text || ""; }

  function draw() {
    const w = overlay.clientWidth, h = overlay.clientHeight;
    overlay.width = w; overlay.height = h;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (!lastFaces || !lastSize) return;
    const sx = w / lastSize[0], sy = h / lastSize[1];
    ctx.lineWidth = 3; ctx.font = "bold 15px system-ui, sans-serif";
    for (const f of lastFaces) {
      const [x1, y1, x2, y2] = f.box, c = COLOURS[f.label] || "#ccc";
      ctx.strokeStyle = c; ctx.fillStyle = c;
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      ctx.fillText(`${NAMES[f.label] || f.label} ${Math.round(f.prob * 100)}%`, x1 * sx, Math.max(14, y1 * sy - 6));
    }
  }

  function sendFrame(source, width, height) {
    if (inFlight) return;  // drop, never queue
    const scale = Math.min(1, model.get("max_width") / width);
    grab.width = Math.round(width * scale); grab.height = Math.round(height * scale);
    grab.getContext("2d").drawImage(source, 0, 0, grab.width, grab.height);
    inFlight = true;
    grab.toBlob(async (blob) => {
      if (!blob) { inFlight = false; return; }
      const buffer = await blob.arrayBuffer();
      frameId += 1; sentAt = performance.now();
      model.send({ type: "frame", id: frameId }, undefined, [buffer]);
    }, "image/jpeg", 0.8);
  }

  function loop() {
    if (!running) return;
    if (video.readyState >= 2 && video.videoWidth) sendFrame(video, video.videoWidth, video.videoHeight);
    requestAnimationFrame(loop);
  }

  model.on("msg:custom", (msg) => {
    inFlight = false;
    const now = performance.now();
    if (msg.type === "error") { say(msg.message); return; }
    if (msg.type !== "result") return;
    say("");
    root.dataset.results = String(Number(root.dataset.results || 0) + 1);
    lastFaces = msg.faces; lastSize = [msg.width, msg.height];
    stamps.push(now); stamps = stamps.filter((t) => now - t < 2000);
    const fps = stamps.length > 1 ? (stamps.length - 1) / ((stamps[stamps.length - 1] - stamps[0]) / 1000) : 0;
    $(".fps").textContent = `FPS ${fps.toFixed(1)}`;
    $(".latency").textContent = `latency ${Math.round(now - sentAt)} ms (kernel ${msg.kernel_ms} ms)`;
    $(".counts").innerHTML = Object.entries(msg.counts)
      .map(([k, v]) => `<span class="count" style="color:${COLOURS[k] || "#333"}">${NAMES[k] || k}: ${v}</span>`).join("");
    draw();
  });

  async function start() {
    stopStream();
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
    shown.hidden = true; video.hidden = false;
    video.srcObject = stream; await video.play();
    running = true; $(".start").disabled = true; $(".stop").disabled = false; say("");
    loop();
  }

  function stopStream() {
    running = false; inFlight = false;
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    if (video.src) { video.pause(); URL.revokeObjectURL(video.src); video.removeAttribute("src"); }
    video.srcObject = null;
    $(".start").disabled = false; $(".stop").disabled = true;
  }

  $(".start").onclick = start;
  $(".stop").onclick = () => { stopStream(); lastFaces = null; draw(); };
  $(".file").onchange = async () => {
    const file = $(".file").files[0];
    if (!file) return;
    stopStream();
    const url = URL.createObjectURL(file);
    if (file.type.startsWith("video/")) {
      shown.hidden = true; video.hidden = false;
      video.src = url; video.loop = true;
      try { await video.play(); } catch (err) { say(`cannot play ${file.name}: ${err.message}`); return; }
      running = true; $(".stop").disabled = false; loop();
    } else {
      video.hidden = true; shown.hidden = false;
      shown.onload = () => { inFlight = false; sendFrame(shown, shown.naturalWidth, shown.naturalHeight); };
      shown.onerror = () => say(`${file.name} is not an image the browser can show`);
      shown.src = url;
    }
  };
  new ResizeObserver(draw).observe(overlay);
  return () => stopStream();
}

export default { render };
