// The OBS overlay at /overlay/{session_id}#key=...: the avatar's face and subtitles on a transparent
// page, driven only by the session's channel, so a turn started by any client plays here. Segments
// play back to back (an audio element each; a streamed first second first, then its whole from where
// it ended), the mouth follows the segment's track at the audio's
// own clock, an interrupt stops the voice at once, manual commands move the face. For tests and
// debugging, <body> carries data-channel, -playing, -played, -expression and -motion.
import { AvatarControl } from "./avatar_commands.mjs";
import { ChannelQueue } from "./channel_queue.mjs";
import { mountFace } from "./face.mjs";
import { openSessionChannel } from "./session_channel.mjs";
import { blinkWeight, restFrame, sampleTrack, validateTrack } from "./track.mjs";

const SUBTITLE_HOLD_MS = 1500; // the last line stays this long after the voice stops
const REST = restFrame();
const $ = (id) => document.getElementById(id);
const now = () => performance.now() / 1000;

// The page lives at <root>/overlay/<session id>: the API is at <root>, whatever prefix a proxy adds.
const apiBase = new URL("../", location.href);
const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
// The key comes in the fragment, which is never sent to a server or written to its logs. It stays
// in the address: OBS reloads the source from it.
const apiKey = new URLSearchParams(location.hash.slice(1)).get("key") || "";

const drawFace = mountFace($("face-slot"));
const queue = new ChannelQueue();
const control = new AvatarControl();
const status = document.body.dataset;
status.played = "0";
let current = null; // {jobId, index, audio, segment, track}
let subtitleTimer = null;

function notice(text) {
  $("notice").textContent = text;
}

// --- the channel -----------------------------------------------------------------------------

function onEvent(type, data) {
  for (const action of queue.apply(type, data)) {
    if (action.kind === "load") load(action.jobId, action.index, action.segment);
    else if (action.kind === "stop" && current && current.jobId === action.jobId) stop();
    else if (action.kind === "command") command(action.command);
  }
}

function onState(state, detail) {
  status.channel = state;
  if (state === "refused") {
    console.warn(`overlay: the channel refused this page: ${detail}`);
    notice(`Overlay: ${detail}. Check the key after #key= in the source's URL.`);
  } else if (state === "open" || state === "sse") {
    notice("");
  }
}

function command(cmd) {
  const effect = control.apply(cmd, now());
  if (effect && effect.motion) cue(effect.motion);
  if (effect && effect.reset) cue(null);
}

/** A motion is a body gesture this face does not have: it hops once, so the cue is seen. */
function cue(motion) {
  const slot = $("face-slot");
  slot.classList.remove("motion");
  status.motion = motion || "";
  if (!motion) return;
  void slot.offsetWidth; // restart the animation when the same cue comes twice
  slot.classList.add("motion");
}

// --- audio -----------------------------------------------------------------------------------

async function load(jobId, index, segment) {
  let media = null;
  try {
    media = await fetchAudio(segment);
  } catch (error) {
    console.warn(`overlay: segment ${index} of ${jobId}: ${error.message}; skipped`);
  }
  if (!queue.loaded(jobId, segment, media, now()) && media) URL.revokeObjectURL(media.src); // not wanted now
}

/** The segment's audio as announced (its Ogg copy may not be written yet), as an audio element on
 * a blob: the key travels in a header, never in a media URL. */
async function fetchAudio(segment) {
  const url = new URL(segment.audio_url, apiBase);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${apiKey}` } });
  if (!response.ok) throw new Error(`GET ${url.pathname}: ${response.status}`);
  const audio = new Audio(URL.createObjectURL(await response.blob()));
  audio.preload = "auto";
  return audio;
}

function start(next) {
  const audio = next.media;
  current = { ...next, audio, trackChecked: false, track: null }; // isStart: its whole follows
  status.playing = `${next.jobId}:${next.index}`;
  showSubtitle(next.text);
  if (next.fromS > 0) audio.currentTime = next.fromS;
  audio.onended = () => finish(audio);
  audio.play().catch((error) => {
    console.warn(`overlay: segment ${next.index} would not play: ${error.message}`);
    finish(audio);
  });
}

/** The segment ended (or could not play): on to the next. */
function finish(audio) {
  if (!current || current.audio !== audio) return;
  queue.played(current.jobId, current.index, Number.isFinite(audio.duration) ? audio.duration : 0);
  if (!current.isStart) status.played = String(Number(status.played) + 1);
  release();
}

/** Interrupted, or replaced by a new attempt: silence now. */
function stop() {
  current.audio.pause();
  release();
  showSubtitle("");
}

function release() {
  URL.revokeObjectURL(current.audio.src);
  current = null;
  status.playing = "";
  clearTimeout(subtitleTimer);
  subtitleTimer = setTimeout(() => {
    if (!current) showSubtitle("");
  }, SUBTITLE_HOLD_MS);
}

function showSubtitle(text) {
  $("subtitle").textContent = text;
}

// --- the face, every frame -------------------------------------------------------------------

/** The current segment's track, checked once; a refused one leaves the face at rest. */
function currentTrack() {
  if (!current.trackChecked && current.segment.track) {
    current.trackChecked = true;
    const problems = validateTrack(current.segment.track);
    if (problems.length) console.warn(`overlay: segment ${current.index}: track refused:`, problems);
    else current.track = current.segment.track;
  }
  return current.track;
}

function animate() {
  requestAnimationFrame(animate);
  const t = now();
  if (!current) {
    const next = queue.next(t);
    if (next) start(next);
  }
  let frame = null;
  if (current && !current.audio.paused) {
    const track = currentTrack();
    if (track) frame = sampleTrack(track, current.audio.currentTime);
  }
  // Between lines the face rests and blinks every 4 s.
  frame = frame || { ...REST, blink: blinkWeight([{ t: 3.8, duration_s: 0.15 }], t % 4) };
  drawFace({ ...frame, expressions: control.blend(frame.expressions, t) }, control.gaze);
  const held = control.expressionWeight(t) > 0 ? control.expression.name : "";
  if (status.expression !== held) status.expression = held;
}

if (!sessionId || !apiKey) {
  onState("refused", sessionId ? "no API key in the URL (#key=...)" : "no session id in the URL");
} else {
  openSessionChannel({ base: apiBase, sessionId, key: apiKey, onEvent, onState });
}
requestAnimationFrame(animate);
