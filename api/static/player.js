// The web player: send text or hold-to-talk speech, follow the job (SSE, polling as a fallback),
// play each segment's audio back to back with Web Audio and drive a simple SVG face from its
// animation track every frame. Consumes the same contract as the Unity player; see track.mjs.
import { SegmentScheduler, blinkWeight, jobProgress, restFrame, sampleTrack, validateTrack } from "./track.mjs";

const POLL_INTERVAL_MS = 300;
const MAX_ERRORS = 8; // network failures in a row before giving up on a job
const LEAD_S = 0.1; // a segment that is late starts this long after it is decoded
const MOTION_LABEL_MS = 1600;
const REST = restFrame();

const $ = (id) => document.getElementById(id);
// Relative to the page, so the player works behind any host or path prefix.
const resolve = (path) => new URL(path, document.baseURI);

let sessionId = null;
let audio = null; // the AudioContext: browsers allow it only after a click
let turn = null; // the turn being played: one job, its scheduler and its audio sources

// --- talking to the API ---------------------------------------------------------------------

async function request(path, options = {}) {
  const response = await fetch(resolve(path), options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error;
    throw new Error(error ? `${error.code}: ${error.message}` : `${options.method || "GET"} ${path}: ${response.status}`);
  }
  return body;
}

async function submit(body, headers, yourText) {
  startAudio();
  try {
    if (!sessionId) {
      const session = await request("v1/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      sessionId = session.id;
    }
    const path = `v1/sessions/${encodeURIComponent(sessionId)}/utterances`;
    const accepted = await request(path, { method: "POST", headers, body });
    startTurn(accepted.job_id, yourText);
  } catch (error) {
    setStatus(error.message, true);
  }
}

function startTurn(jobId, yourText) {
  stopTurn();
  turn = {
    jobId,
    scheduler: new SegmentScheduler({ leadS: LEAD_S }),
    requested: new Set(),
    sources: new Set(),
    ended: false,
    clock: -Infinity,
    state: "waiting", // of playback: waiting | playing | finished
    you: addLine("you", yourText),
    reply: addLine("reply", "…"),
  };
  follow(turn);
}

/** A new utterance interrupts the reply still playing. */
function stopTurn() {
  if (!turn) return;
  turn.ended = true;
  if (turn.events) turn.events.close();
  for (const source of turn.sources) source.stop();
  turn = null;
}

function follow(current) {
  if (!("EventSource" in window)) return poll(current);
  const events = new EventSource(resolve(`v1/jobs/${encodeURIComponent(current.jobId)}/events`));
  current.events = events;
  events.addEventListener("job", (event) => onJob(current, JSON.parse(event.data)));
  events.addEventListener("end", () => events.close());
  events.onerror = () => {
    events.close(); // a proxy that buffers or drops the stream: fall back to polling
    if (!current.ended) poll(current);
  };
}

async function poll(current) {
  let errors = 0;
  while (!current.ended && turn === current) {
    try {
      onJob(current, await request(`v1/jobs/${encodeURIComponent(current.jobId)}`));
      errors = 0;
    } catch (error) {
      if (++errors >= MAX_ERRORS) return setStatus(error.message, true);
    }
    await new Promise((done) => setTimeout(done, POLL_INTERVAL_MS));
  }
}

function onJob(current, job) {
  if (turn !== current) return;
  const heard = job.kind === "audio" ? job.transcript && job.transcript.text : job.input_text;
  if (heard) current.you.textContent = heard;
  const said = (job.reply && job.reply.text) || job.segments.map((s) => s.text).join(" ");
  if (said) current.reply.textContent = said;
  if (job.error) {
    current.reply.textContent = `${job.error.code}: ${job.error.message}`;
    current.reply.className = "failed";
    current.failed = true;
    setStatus(`The reply failed: ${job.error.message}`, true);
  }
  const { fetch, total } = jobProgress(job, current.requested);
  for (const segment of fetch) {
    current.requested.add(segment.index);
    load(current, segment);
  }
  if ((job.status === "queued" || job.status === "running") && current.state === "waiting") {
    const ready = job.segments.filter((s) => s.ready).length;
    setStatus(`${job.stage || job.status}… ${ready} segment(s) ready`);
  }
  if (total !== null) {
    current.ended = true;
    current.scheduler.complete(total);
  }
}

/** Decode a segment's Ogg/Opus copy (WAV if the browser cannot) and queue it with its track. */
async function load(current, segment) {
  const ogg = resolve(segment.audio_url);
  ogg.searchParams.set("format", "ogg");
  let buffer;
  try {
    buffer = await decode(ogg);
  } catch {
    try {
      buffer = await decode(resolve(segment.audio_url));
    } catch (error) {
      // Skip it (a moment of silence) rather than stall the segments after it.
      setStatus(`segment ${segment.index}: ${error.message}`, true);
      buffer = audio.createBuffer(1, Math.ceil(audio.sampleRate * 0.01), audio.sampleRate);
    }
  }
  const problems = validateTrack(segment.animation);
  if (problems.length) console.warn(`segment ${segment.index}: track refused, resting face:`, problems);
  if (turn === current) current.scheduler.add(segment.index, buffer.duration, problems.length ? null : segment.animation, buffer);
}

async function decode(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url.pathname}: ${response.status}`);
  return audio.decodeAudioData(await response.arrayBuffer());
}

// --- the audio clock and the face -----------------------------------------------------------

function startAudio() {
  if (!audio) audio = new AudioContext();
  if (audio.state === "suspended") audio.resume();
}

/**
 * Context time of the sound leaving the speakers now: currentTime runs ahead by the output latency.
 * Never past currentTime, so the face waits rather than runs ahead when the audio thread stalls.
 */
function heardTime() {
  const stamp = audio.getOutputTimestamp ? audio.getOutputTimestamp() : null;
  let heard = audio.currentTime - (audio.outputLatency || audio.baseLatency || 0);
  if (stamp && stamp.contextTime > 0 && stamp.performanceTime > 0) {
    heard = stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
  }
  return Math.min(heard, audio.currentTime);
}

function play(current, segment) {
  const source = audio.createBufferSource();
  source.buffer = segment.payload;
  source.connect(audio.destination);
  source.onended = () => current.sources.delete(source);
  source.start(segment.startTime);
  current.sources.add(source);
}

function animate() {
  requestAnimationFrame(animate);
  let frame = null;
  if (audio && turn) {
    for (let segment; (segment = turn.scheduler.scheduleNext(audio.currentTime)); ) play(turn, segment);
    turn.clock = Math.max(turn.clock, heardTime()); // the scheduler's clock never goes backwards
    const position = turn.scheduler.advance(turn.clock);
    if (position.state !== turn.state) {
      turn.state = position.state;
      if (position.state === "playing") setStatus("Speaking…");
      if (position.state === "finished" && !turn.failed) setStatus("Your turn.");
    }
    for (const motion of position.motions) showMotion(motion.name);
    if (position.segment && position.segment.track) frame = sampleTrack(position.segment.track, position.localTime);
  }
  // Between replies the face rests and blinks every 4 s.
  draw(frame || { ...REST, blink: blinkWeight([{ t: 3.8, duration_s: 0.15 }], (performance.now() / 1000) % 4) });
}

function draw({ mouth, expressions: e, blink }) {
  const mix = (base, toward) => base.map((c, i) => Math.round(c + e.angry * (toward.angry[i] - c) + e.sad * (toward.sad[i] - c)));
  const skin = mix([255, 224, 196], { angry: [255, 165, 150], sad: [210, 220, 242] });
  $("head").setAttribute("fill", `rgb(${skin.join(",")})`);
  for (const side of ["left", "right"]) $(`cheek-${side}`).setAttribute("opacity", 0.7 * e.happy + 0.3 * e.relaxed);

  const open = (1 - blink) * (1 - 0.45 * e.relaxed - 0.3 * e.happy) * (1 + 0.35 * e.surprised);
  for (const side of ["left", "right"]) {
    $(`eye-${side}`).setAttribute("ry", Math.max(0.8, 12 * open));
    $(`eye-${side}`).setAttribute("rx", 9 * (1 + 0.15 * e.surprised));
  }
  const raise = 10 * e.surprised + 3 * e.sad - 3 * e.angry;
  const inner = 9 * e.angry - 8 * e.sad; // inner ends down when angry, up when sad
  setLine("brow-left", 56, 66 - raise, 82, 66 - raise + inner);
  setLine("brow-right", 118, 66 - raise + inner, 144, 66 - raise);

  // VRM mouth shapes: aa opens wide, oh/ou round and narrow it, ih/ee spread it with little opening.
  const opening = Math.min(1.2, mouth.aa + 0.8 * mouth.oh + 0.55 * mouth.ou + 0.35 * mouth.ih + 0.3 * mouth.ee);
  const half = 22 * (1 + 0.35 * mouth.ee + 0.25 * mouth.ih - 0.4 * mouth.ou - 0.2 * mouth.oh + 0.05 * mouth.aa);
  const smile = e.happy + 0.5 * e.relaxed - 0.8 * e.sad - 0.5 * e.angry;
  const corner = 140 - 8 * smile;
  const middle = 140 + 4 * smile;
  const lips = 1 + 26 * opening;
  $("mouth").setAttribute(
    "d",
    `M ${100 - half} ${corner} Q 100 ${middle - lips} ${100 + half} ${corner} Q 100 ${middle + lips} ${100 - half} ${corner} Z`,
  );
}

function setLine(id, x1, y1, x2, y2) {
  const line = $(id);
  for (const [name, value] of Object.entries({ x1, y1, x2, y2 })) line.setAttribute(name, value);
}

let motionTimer = null;
function showMotion(name) {
  const label = $("motion");
  label.textContent = `▶ ${name}`;
  label.classList.add("shown");
  clearTimeout(motionTimer);
  motionTimer = setTimeout(() => label.classList.remove("shown"), MOTION_LABEL_MS);
}

// --- the page -------------------------------------------------------------------------------

function addLine(kind, text) {
  const line = document.createElement("li");
  line.className = kind;
  line.textContent = text;
  $("log").append(line);
  line.scrollIntoView({ block: "end" });
  return line;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  submit(JSON.stringify({ text }), { "Content-Type": "application/json" }, text);
});

// Hold to talk: record while the button is held (pointer, or Space/Enter on the focused button).
const RECORDING_TYPES = [["audio/webm;codecs=opus", "webm"], ["audio/webm", "webm"], ["audio/ogg;codecs=opus", "ogg"], ["audio/mp4", "m4a"]];
let holding = false;
let recorder = null;

async function startRecording() {
  if (holding) return;
  holding = true;
  startAudio();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    holding = false;
    return setStatus(`microphone: ${error.message}`, true);
  }
  if (!holding) return stream.getTracks().forEach((track) => track.stop()); // released while asking
  const [mimeType, extension] = RECORDING_TYPES.find(([type]) => MediaRecorder.isTypeSupported(type)) || ["", "webm"];
  const chunks = [];
  recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((track) => track.stop()); // the browser's recording light goes off
    $("talk").classList.remove("recording");
    const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
    recorder = null;
    const form = new FormData();
    form.append("audio", blob, `speech.${extension}`);
    submit(form, {}, "🎤 …");
  };
  recorder.start();
  $("talk").classList.add("recording");
  setStatus("Listening… release to send.");
}

function stopRecording() {
  holding = false;
  if (recorder && recorder.state === "recording") recorder.stop();
}

const talk = $("talk");
talk.addEventListener("pointerdown", (event) => {
  talk.setPointerCapture(event.pointerId); // keep recording if the pointer slides off the button
  startRecording();
});
for (const name of ["pointerup", "pointercancel"]) talk.addEventListener(name, stopRecording);
talk.addEventListener("keydown", (event) => {
  if ((event.key === " " || event.key === "Enter") && !event.repeat) startRecording();
});
talk.addEventListener("keyup", (event) => {
  if (event.key === " " || event.key === "Enter") stopRecording();
});

requestAnimationFrame(animate);
