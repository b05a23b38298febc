// The talk page (/player): send text or hold-to-talk speech, follow the job's event stream (long-poll
// when the stream fails), play each segment's audio back to back with Web Audio (gapless: each starts
// on the audio clock where the last ends; a streamed first second plays before its segment's whole
// and the rest follows it) and drive a simple SVG face (face.mjs) from its animation
// track every frame: mouth and expression. The session is remembered, so its history shows on return;
// Interrupt (or a new line while the avatar speaks) cuts the reply off (barge-in). Consumes the same
// contract as the Unity player; see track.mjs for the tracks and turn_feed.mjs for the job's progress.
// For tests and debugging, <body> carries data-state (playback), data-played (segments started),
// data-expression (the strongest expression shown), data-history (past turns shown), data-job and
// data-position (segment:seconds into it, as an interrupt reports it).
import { mountFace } from "./face.mjs";
import { SegmentScheduler, blinkWeight, restFrame, sampleTrack, validateTrack } from "./track.mjs";
import { EVENT_TYPES, createTurnFeed } from "./turn_feed.mjs";

const POLL_WAIT_S = 25; // the server answers as soon as the job changes, or after this long
const MIN_POLL_GAP_MS = 300; // between polls that brought nothing new (a server that did not wait)
const RETRY_MS = [500, 1000, 2000, 4000, 8000]; // back-off after network failures in a row
const MAX_ERRORS = 8; // network failures in a row before giving up on a job
const TRACK_GRACE_MS = 250; // decoded audio waits this long for its track, then plays without it
const LEAD_S = 0.1; // a segment that is late starts this long after it is decoded
const MOTION_LABEL_MS = 1600;
const REST = restFrame();

const $ = (id) => document.getElementById(id);
const drawFace = mountFace($("face-slot"));
// Relative to the page, so the player works behind any host or path prefix.
const resolve = (path) => new URL(path, document.baseURI);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// The API key: from the page's fragment (`/player#key=...`, as `make run` prints it; a fragment is
// never sent to servers or logs) or remembered from an earlier visit.
const apiKey = (() => {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromFragment) {
    localStorage.setItem("vtuber-api-key", fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return fromFragment || localStorage.getItem("vtuber-api-key") || "";
})();
const withKey = (headers = {}) => (apiKey ? { ...headers, Authorization: `Bearer ${apiKey}` } : headers);

const SESSION_STORE = "vtuber-session";
const HISTORY_TURNS = 20;
const EXPRESSION_SHOWN = 0.2; // weight above which an expression counts as shown (data-expression)
const status = document.body.dataset;
status.played = "0";
let sessionId = localStorage.getItem(SESSION_STORE);
let audio = null; // the AudioContext: browsers allow it only after a click
let turn = null; // the turn being played: one job, its feed, its scheduler and its audio sources

// --- talking to the API ---------------------------------------------------------------------

async function request(path, options = {}) {
  const response = await fetch(resolve(path), { ...options, headers: withKey(options.headers) });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error;
    const failure = new Error(error ? `${error.code}: ${error.message}` : `${options.method || "GET"} ${path}: ${response.status}`);
    failure.status = response.status;
    throw failure;
  }
  return body;
}

/**
 * Send one utterance, `{text}` or `{audio: Blob, filename}`. While the avatar's last reply is still
 * being made it is cut off first (`interrupt`), so the new line is answered at once.
 */
async function submit(utterance, yourText) {
  startAudio();
  const interrupt = Boolean(turn && !turn.feed.ended);
  let body;
  let headers = {};
  if (utterance.audio) {
    body = new FormData();
    body.append("audio", utterance.audio, utterance.filename);
    if (interrupt) body.append("interrupt", "true");
  } else {
    body = JSON.stringify({ text: utterance.text, interrupt });
    headers = { "Content-Type": "application/json" };
  }
  try {
    if (!sessionId) {
      const session = await request("v1/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      rememberSession(session.id);
    }
    const path = `v1/sessions/${encodeURIComponent(sessionId)}/utterances`;
    const accepted = await request(path, { method: "POST", headers, body });
    if (interrupt && turn) turn.reply.classList.add("cut");
    startTurn(accepted.job_id, yourText);
  } catch (error) {
    setStatus(error.message, true);
  }
}

function rememberSession(id) {
  sessionId = id;
  if (id) localStorage.setItem(SESSION_STORE, id);
  else localStorage.removeItem(SESSION_STORE);
}

/** The remembered session's past turns, oldest first, above anything said now. */
async function showHistory() {
  if (!sessionId) return;
  let page;
  try {
    page = await request(`v1/sessions/${encodeURIComponent(sessionId)}/history?limit=${HISTORY_TURNS}`);
  } catch (error) {
    if (error.status === 404) return rememberSession(null); // expired, erased, or another key's
    return setStatus(`history: ${error.message}`, true);
  }
  const lines = [];
  for (const past of [...page.turns].reverse()) {
    if (past.kind !== "text" && past.kind !== "audio") continue;
    lines.push(line("you past", past.user_text || "🎤 …"));
    if (past.error) lines.push(line("failed past", `${past.error.code}: ${past.error.message}`));
    else lines.push(line(`reply past${past.interrupted ? " cut" : ""}`, past.reply || "…"));
  }
  $("log").prepend(...lines);
  status.history = String(lines.length / 2);
  if (lines.length) setStatus("Welcome back: your conversation so far is above.");
}

/** Cut the reply off where the listener is (barge-in): the audio stops now, the server stops the
 * turn and keeps what was heard. */
async function interruptTurn() {
  const current = turn;
  if (!current) return;
  const { jobId, position } = current;
  const running = !current.feed.ended;
  stopTurn();
  current.reply.classList.add("cut");
  setStatus("Interrupted. Your turn.");
  if (!running) return; // made in full already: only its playback stops
  try {
    const body = JSON.stringify(position ? { played: position } : {});
    await request(`v1/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  } catch (error) {
    if (error.status !== 409) setStatus(`interrupt: ${error.message}`, true); // 409: it ended meanwhile
  }
}

function startTurn(jobId, yourText) {
  stopTurn();
  status.job = jobId;
  turn = {
    jobId,
    feed: createTurnFeed(),
    aborter: new AbortController(), // cancels a long-poll in flight when the turn is interrupted
    events: null,
    stopped: false,
    failed: false,
    clock: -Infinity,
    position: null, // {segment, offset_s}: what the listener hears now (sent with an interrupt)
    state: "waiting", // of playback: waiting | playing | finished
    you: addLine("you", yourText),
    reply: addLine("reply", "…"),
  };
  restart(turn);
  follow(turn);
}

/** Playback from scratch: at the start, and when a new LLM attempt replaces the reply. */
function restart(current) {
  if (current.sources) for (const source of current.sources) source.stop();
  current.generation = (current.generation || 0) + 1; // audio still loading for an older one is dropped
  current.scheduler = new SegmentScheduler({ leadS: LEAD_S });
  current.sources = new Set();
  current.decoded = new Map(); // index → AudioBuffer waiting (briefly) for its track
  current.tracks = new Map(); // index → its track as it arrived (null if refused)
  current.playing = new Map(); // index → the scheduler's entry once scheduled (the rest's, if apart)
  current.starts = new Map(); // index → "loading" | "queued" | "superseded": a streamed start's fate
  current.state = "waiting";
}

/** A new utterance interrupts the reply still playing. */
function stopTurn() {
  if (!turn) return;
  turn.stopped = true;
  closeEvents(turn);
  turn.aborter.abort();
  for (const source of turn.sources) source.stop();
  turn = null;
}

const live = (current, generation = current.generation) => turn === current && current.generation === generation;

/** The event stream first; long-poll if the browser has none or the stream fails (never both). */
function follow(current) {
  if (!("EventSource" in window)) return poll(current);
  // EventSource cannot send headers: the key goes in the query (`access_token`).
  const stream = resolve(`v1/jobs/${encodeURIComponent(current.jobId)}/events`);
  if (apiKey) stream.searchParams.set("access_token", apiKey);
  const events = new EventSource(stream);
  current.events = events;
  for (const type of EVENT_TYPES) {
    events.addEventListener(type, (message) => {
      if (current.events !== events) return;
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return console.warn(`${type}: unreadable event`, message.data);
      }
      apply(current, current.feed.applyEvent(type, data));
      if (current.feed.ended) closeEvents(current); // before the server's close reads as an error
    });
  }
  events.onerror = () => {
    if (current.events !== events) return;
    closeEvents(current); // a proxy that buffers or drops the stream: fall back to long-poll
    if (!current.stopped && !current.feed.ended) poll(current);
  };
}

function closeEvents(current) {
  if (current.events) current.events.close();
  current.events = null;
}

/** Long-poll the job: each answer comes when its version moves on (or after POLL_WAIT_S). */
async function poll(current) {
  const path = `v1/jobs/${encodeURIComponent(current.jobId)}`;
  let version = null;
  let errors = 0;
  while (turn === current && !current.feed.ended) {
    const asked = performance.now();
    const query = version === null ? "" : `?wait=${POLL_WAIT_S}&since=${encodeURIComponent(version)}`;
    let job;
    try {
      job = await request(path + query, { signal: current.aborter.signal });
      errors = 0;
    } catch (error) {
      if (turn !== current) return;
      errors += 1;
      const hopeless = error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;
      if (hopeless || errors >= MAX_ERRORS) return setStatus(error.message, true);
      await sleep(RETRY_MS[Math.min(errors, RETRY_MS.length) - 1]);
      continue;
    }
    if (turn !== current) return;
    apply(current, current.feed.applyJob(job));
    const moved = job.version != null && job.version !== version;
    if (!moved) await sleep(Math.max(0, MIN_POLL_GAP_MS - (performance.now() - asked)));
    version = job.version ?? null;
  }
}

/** Carry out what the feed asks, then show its text. */
function apply(current, actions) {
  if (turn !== current) return;
  for (const action of actions) {
    if (action.kind === "reset") restart(current);
    else if (action.kind === "start") loadStart(current, action.segment);
    else if (action.kind === "load") load(current, action.segment);
    else if (action.kind === "track") arrived(current, action.segment);
    else if (action.kind === "total") current.scheduler.complete(Math.max(action.total, current.scheduler.nextIndex));
    else if (action.kind === "end") ended(current, action.error);
  }
  const { feed } = current;
  if (feed.heard) current.you.textContent = feed.heard;
  if (!current.failed) current.reply.textContent = feed.replyText || "…";
  if (!feed.ended && current.state === "waiting") setStatus(`${feed.stage || feed.status}… ${feed.audioReady} segment(s) ready`);
}

/** The turn is over: a start whose whole never came is all of its segment there will be. */
function ended(current, error) {
  for (const known of current.feed.segments.values()) {
    if (known.started && !known.loaded) current.scheduler.dropRest(known.index);
  }
  if (error) fail(current, error);
}

function fail(current, error) {
  current.reply.textContent = `${error.code}: ${error.message}`;
  current.reply.className = "failed";
  current.failed = true;
  setStatus(`The reply failed: ${error.message}`, true);
}

/**
 * Fetch and decode a segment's audio as soon as it exists; queue it when its track arrives or after
 * TRACK_GRACE_MS without it, so the first sound never waits for animation.
 */
async function load(current, segment) {
  const { generation } = current;
  const buffer = await fetchAudio(segment);
  if (!live(current, generation)) return;
  const start = current.starts.get(segment.index);
  if (start === "queued") return follows(current, segment.index, buffer);
  if (start === "loading") current.starts.set(segment.index, "superseded"); // the whole came first
  current.decoded.set(segment.index, buffer);
  if (current.tracks.has(segment.index)) return queue(current, segment.index);
  setTimeout(() => {
    if (live(current, generation) && current.decoded.has(segment.index)) queue(current, segment.index);
  }, TRACK_GRACE_MS);
}

/**
 * A streamed start (the segment's first second, `segment.audio_started`): it plays as soon as it is
 * decoded, without waiting for a track (that comes with the whole), and holds back the segments
 * after it until the whole arrives.
 */
async function loadStart(current, segment) {
  const { generation } = current;
  current.starts.set(segment.index, "loading");
  const buffer = await fetchAudio(segment);
  if (!live(current, generation) || current.starts.get(segment.index) !== "loading") return;
  if (current.scheduler.addStart(segment.index, buffer.duration, current.tracks.get(segment.index) ?? null, buffer)) {
    current.starts.set(segment.index, "queued");
  }
}

/** The whole of a segment whose start is queued or playing: play the rest from where the start ends. */
function follows(current, index, buffer) {
  const rest = current.scheduler.extend(index, buffer.duration, buffer, audio.currentTime);
  if (!rest) return; // the start had not begun: the whole took its place and plays from its beginning
  current.playing.set(index, rest.entry);
  const track = current.tracks.get(index);
  if (track && !rest.entry.track) lateTrack(rest.entry, track, current.clock - rest.entry.startTime + rest.entry.offsetS);
  sound(current, buffer, rest.playAt, rest.offsetS);
}

/**
 * The audio as announced, or a moment of silence. Not the Ogg copy: it is written after the
 * announcement, so asking for it first cost a 404 (a console error) and a round trip before the
 * first sound.
 */
async function fetchAudio(segment) {
  try {
    return await decode(resolve(segment.audio_url));
  } catch (error) {
    // Skip it (a moment of silence) rather than stall the segments after it.
    setStatus(`segment ${segment.index}: ${error.message}`, true);
    return audio.createBuffer(1, Math.ceil(audio.sampleRate * 0.01), audio.sampleRate);
  }
}

async function decode(url) {
  const response = await fetch(url, { headers: withKey() });
  if (!response.ok) throw new Error(`GET ${url.pathname}: ${response.status}`);
  return audio.decodeAudioData(await response.arrayBuffer());
}

function queue(current, index) {
  const buffer = current.decoded.get(index);
  current.decoded.delete(index);
  current.scheduler.add(index, buffer.duration, current.tracks.get(index) ?? null, buffer);
}

/** A segment's track arrived: it lets decoded audio start now, or joins audio already playing. */
function arrived(current, segment) {
  const problems = validateTrack(segment.animation);
  if (problems.length) console.warn(`segment ${segment.index}: track refused, resting face:`, problems);
  const track = problems.length ? null : segment.animation;
  current.tracks.set(segment.index, track);
  if (current.decoded.has(segment.index)) queue(current, segment.index);
  const entry = current.playing.get(segment.index);
  if (entry && track && !entry.track) lateTrack(entry, track, current.clock - entry.startTime + entry.offsetS);
}

/**
 * Give a scheduled segment the track it started without. The face samples it at the playback time
 * from the next frame on; motions already past are skipped rather than fired all at once, late.
 */
function lateTrack(entry, track, localTime) {
  entry.track = track;
  // The rest of a streamed segment, played apart after a pause, owns the motions from its offset on.
  entry.motions = [...(track.motions || [])].filter((motion) => motion.t >= entry.offsetS).sort((a, b) => a.t - b.t);
  entry.fired = entry.motions.filter((motion) => motion.t < localTime).length;
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
  current.playing.set(segment.index, segment);
  const track = current.tracks.get(segment.index);
  if (track && !segment.track) lateTrack(segment, track, 0); // it came after the audio was queued
  sound(current, segment.payload, segment.startTime);
  status.played = String(Number(status.played) + 1);
}

/** Play `buffer` from `offsetS` into it at context time `when` (kept, so an interrupt can stop it). */
function sound(current, buffer, when, offsetS = 0) {
  const source = audio.createBufferSource();
  source.buffer = buffer;
  source.connect(audio.destination);
  source.onended = () => current.sources.delete(source);
  source.start(when, offsetS);
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
    if (position.segment) {
      turn.position = { segment: position.segment.index, offset_s: Math.max(0, position.localTime) };
      const heard = `${turn.position.segment}:${turn.position.offset_s.toFixed(1)}`;
      if (status.position !== heard) status.position = heard;
    }
    if (position.segment && position.segment.track) frame = sampleTrack(position.segment.track, position.localTime);
  }
  showState(frame);
  // Between replies the face rests and blinks every 4 s.
  drawFace(frame || { ...REST, blink: blinkWeight([{ t: 3.8, duration_s: 0.15 }], (performance.now() / 1000) % 4) });
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

function line(kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = text;
  return item;
}

function addLine(kind, text) {
  const item = line(kind, text);
  $("log").append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

/** The state the page shows beside the face: the Interrupt button and the data-* for tests. */
function showState(frame) {
  const state = turn ? turn.state : "idle";
  if (status.state !== state) status.state = state;
  const canInterrupt = Boolean(turn && (!turn.feed.ended || turn.state !== "finished"));
  if ($("interrupt").disabled === canInterrupt) $("interrupt").disabled = !canInterrupt;
  let expression = "";
  if (frame) {
    const shown = Object.entries(frame.expressions).filter(([name]) => name !== "neutral");
    const [name, weight] = shown.reduce((top, entry) => (entry[1] > top[1] ? entry : top), ["", 0]);
    if (weight > EXPRESSION_SHOWN) expression = name;
  }
  if (status.expression !== expression) status.expression = expression;
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
  submit({ text }, text);
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
    submit({ audio: blob, filename: `speech.${extension}` }, "🎤 …");
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

$("interrupt").addEventListener("click", interruptTurn);
$("new-session").addEventListener("click", () => {
  stopTurn();
  rememberSession(null);
  $("log").replaceChildren();
  status.history = "0";
  setStatus("A new conversation: type a message or hold the button to talk.");
});

showHistory();
requestAnimationFrame(animate);
