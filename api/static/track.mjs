// The animation-track contract (schemas/animation.py) for browsers: sampling, validation and the
// back-to-back scheduling of a turn's segments. Pure functions and one small class with no DOM or
// Web Audio use, so node's test runner checks them against the Python reference sampler. It mirrors
// the Unity package's Runtime/Core (Curve, TrackSampler, TrackValidator, SegmentQueue).

export const SCHEMA_VERSION = "1.0";
export const MOUTH_SHAPES = ["aa", "ih", "ou", "ee", "oh"];
export const VISEMES = [
  "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
];
export const EMOTIONS = ["happy", "angry", "sad", "relaxed", "surprised", "neutral"];
const GROUPS = { mouth: MOUTH_SHAPES, visemes: VISEMES, expressions: EMOTIONS };
// Times travel as JSON decimals and both sides compare the same doubles; the slack only absorbs
// tracks built by hand.
const EPSILON = 1e-6;

const clamp01 = (w) => (w > 1 ? 1 : w > 0 ? w : 0); // negatives and NaN give 0

/** A curve's weight at `t` seconds: linear between keyframes, held flat outside them, in [0, 1]. */
export function sampleCurve(curve, t) {
  const n = curve ? curve.length : 0;
  if (n === 0) return 0;
  if (!(t > curve[0].t)) return clamp01(curve[0].w); // also catches NaN
  if (t >= curve[n - 1].t) return clamp01(curve[n - 1].w);
  let lo = 0;
  let hi = n - 1; // invariant: curve[lo].t <= t < curve[hi].t
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (curve[mid].t <= t) lo = mid;
    else hi = mid;
  }
  const a = curve[lo];
  const b = curve[hi];
  const span = b.t - a.t;
  if (!(span > 0)) return clamp01(b.w);
  return clamp01(a.w + ((b.w - a.w) * (t - a.t)) / span);
}

/** The VRM `blink` weight: each blink rises 0 → 1 over its first half and falls back to 0. */
export function blinkWeight(blinks, t) {
  let weight = 0;
  for (const blink of blinks || []) {
    if (blink.t >= t) break; // sorted: later blinks have not started
    if (!(blink.duration_s > 0) || t >= blink.t + blink.duration_s) continue;
    const phase = (t - blink.t) / blink.duration_s;
    weight = Math.max(weight, 1 - Math.abs(2 * phase - 1));
  }
  return weight;
}

/** Every weight of the face at `t` seconds into the segment; a missing curve reads as 0. */
export function sampleTrack(track, t) {
  const frame = { blink: blinkWeight(track ? track.blinks : [], t) };
  for (const [group, names] of Object.entries(GROUPS)) {
    const curves = (track && track[group]) || {};
    frame[group] = Object.fromEntries(names.map((name) => [name, sampleCurve(curves[name], t)]));
  }
  return frame;
}

/** The face with no track: mouth closed, `sil` viseme, neutral expression, eyes open. */
export function restFrame() {
  const zeros = (names) => Object.fromEntries(names.map((name) => [name, 0]));
  return {
    mouth: zeros(MOUTH_SHAPES),
    visemes: { ...zeros(VISEMES), sil: 1 },
    expressions: zeros(EMOTIONS),
    blink: 0,
  };
}

const isNumber = (x) => typeof x === "number" && Number.isFinite(x);

/**
 * Every way the track breaks the contract; empty when it is playable as is. A player refuses a
 * track of another schema version (its meaning may have changed) and logs, rather than guesses,
 * anything malformed.
 */
export function validateTrack(track) {
  if (track === null || typeof track !== "object") return ["no track"];
  const problems = [];
  if (track.schema_version !== SCHEMA_VERSION) {
    problems.push(`schema_version '${track.schema_version}' is not ${SCHEMA_VERSION}`);
  }
  const duration = track.duration_s;
  if (!isNumber(duration) || !(duration > 0)) return [...problems, "duration_s must be > 0"];
  if (track.emotion !== undefined && !EMOTIONS.includes(track.emotion)) {
    problems.push(`emotion '${track.emotion}' is not one of ${EMOTIONS.join(", ")}`);
  }
  for (const [group, names] of Object.entries(GROUPS)) {
    const curves = track[group];
    if (curves === null || typeof curves !== "object") {
      problems.push(`${group} is missing`);
      continue;
    }
    for (const extra of Object.keys(curves).filter((name) => !names.includes(name))) {
      problems.push(`${group}.${extra} is not part of the contract`);
    }
    for (const name of names) problems.push(...curveProblems(`${group}.${name}`, curves[name], duration));
  }
  problems.push(...timedProblems("blink", track.blinks, duration, (b) => b.t + b.duration_s, (b) => {
    return isNumber(b.duration_s) && b.duration_s > 0 ? null : "has no positive duration_s";
  }));
  problems.push(...timedProblems("motion", track.motions, duration, (m) => m.t, (m) => {
    return typeof m.name === "string" && m.name.length > 0 ? null : "has no name";
  }));
  return problems;
}

function curveProblems(label, curve, duration) {
  if (!Array.isArray(curve) || curve.length === 0) return [`${label} is missing`];
  const problems = [];
  if (!curve.every((key) => key && isNumber(key.t) && isNumber(key.w))) {
    return [`${label} has a keyframe without numeric t and w`];
  }
  if (Math.abs(curve[0].t) > EPSILON || Math.abs(curve[curve.length - 1].t - duration) > EPSILON) {
    problems.push(`${label} must start at 0 and end at duration_s`);
  }
  if (curve.some((key) => !(key.w >= 0 && key.w <= 1))) problems.push(`${label} has a weight outside [0, 1]`);
  if (curve.some((key, i) => i > 0 && !(key.t > curve[i - 1].t))) {
    problems.push(`${label} keyframe times must increase`);
  }
  return problems;
}

function timedProblems(kind, items, duration, endOf, ownProblem) {
  if (items === undefined) return [];
  if (!Array.isArray(items)) return [`${kind}s must be a list`];
  const problems = [];
  let previous = 0;
  for (const item of items) {
    if (!item || !isNumber(item.t)) {
      problems.push(`a ${kind} has no numeric t`);
      continue;
    }
    const own = ownProblem(item);
    if (own) problems.push(`${kind} at ${item.t} s ${own}`);
    else if (item.t < 0 || endOf(item) > duration + EPSILON) problems.push(`${kind} at ${item.t} s lies outside the audio`);
    if (item.t < previous) problems.push(`${kind}s are not sorted by time`);
    previous = item.t;
  }
  return problems;
}

/**
 * Plays one turn's segments in index order, back to back on an audio clock (AudioContext time),
 * whatever order they arrive in. A segment that is ready in time starts exactly when the previous
 * one ends (gapless); a late one starts `leadS` after it arrives (audio cannot start in the past).
 * Each motion is reported once, in time order, when the clock passes it.
 *
 * A streamed start (`segment.audio_started`: the first second of a segment, before its whole) is
 * queued with `addStart` and plays like any segment, but nothing after it is scheduled until
 * `extend` gives the whole: the rest then follows the start without a gap if it came in time, or
 * after a pause as soon as it can (an entry of its own, `offsetS` into the segment), so the
 * segment's track and motions stay on the segment's own time either way.
 */
export class SegmentScheduler {
  constructor({ firstIndex = 0, leadS = 0.05 } = {}) {
    this.leadS = leadS;
    this.nextIndex = firstIndex;
    this.total = null; // how many segments the turn has, once known
    this.pending = new Map(); // index → segment not yet scheduled
    this.scheduled = []; // in start order; dropped once ended with every motion fired
    this.lastEnd = -Infinity;
  }

  /** Queue a segment; `durationS` is the audio's length, which rules the clock. False if refused. */
  add(index, durationS, track, payload) {
    if (!(durationS > 0) || !Number.isFinite(durationS)) throw new RangeError("a segment needs a positive, finite duration");
    if (index < this.nextIndex || this.pending.has(index)) return false;
    if (this.total !== null && index >= this.total) return false;
    const motions = [...((track && track.motions) || [])].sort((a, b) => a.t - b.t); // stable
    this.pending.set(index, { index, durationS, track, payload, motions, fired: 0, startTime: 0, endTime: 0, offsetS: 0 });
    return true;
  }

  /** Queue a segment's streamed start: it plays, and the segments after it wait for `extend`. */
  addStart(index, durationS, track, payload) {
    if (!this.add(index, durationS, track, payload)) return false;
    this.pending.get(index).partial = true;
    return true;
  }

  /**
   * The whole of a segment queued by `addStart`, `durationS` long. Null when nothing more is to be
   * played here: the start had not been scheduled yet (the whole replaces it and plays from its
   * beginning), or the whole is no longer than the start. Otherwise `{entry, playAt, offsetS}`: play
   * the whole from `offsetS` at `playAt`; `entry` is the start's own, lengthened, when the rest came
   * in time, or a new one after a pause when it came late (the one a late track must reach).
   */
  extend(index, durationS, payload, clock) {
    const waiting = this.pending.get(index);
    if (waiting && waiting.partial) {
      Object.assign(waiting, { durationS, payload, partial: false });
      return null;
    }
    const start = this.scheduled.find((entry) => entry.index === index && entry.partial);
    if (!start) return null;
    start.partial = false;
    const heardS = start.durationS;
    if (!(durationS > heardS)) return null;
    const restAt = Math.max(start.endTime, clock + this.leadS);
    if (restAt <= start.endTime) {
      Object.assign(start, { durationS, endTime: start.startTime + durationS, payload });
      this.lastEnd = Math.max(this.lastEnd, start.endTime);
      return { entry: start, playAt: restAt, offsetS: heardS };
    }
    const rest = {
      ...start,
      durationS: durationS - heardS,
      payload,
      offsetS: heardS,
      startTime: restAt,
      endTime: restAt + durationS - heardS,
      motions: start.motions.filter((motion) => motion.t >= heardS),
      fired: 0,
    };
    start.motions = start.motions.filter((motion) => motion.t < heardS); // none due in the pause
    start.fired = Math.min(start.fired, start.motions.length);
    this.scheduled.push(rest);
    this.lastEnd = rest.endTime;
    return { entry: rest, playAt: restAt, offsetS: heardS };
  }

  /** A start whose whole will never come (the turn failed or was cut off): it is all there is. */
  dropRest(index) {
    for (const entry of [this.pending.get(index), ...this.scheduled]) {
      if (entry && entry.index === index) entry.partial = false;
    }
  }

  /** The turn has exactly `total` segments: once they have played, playback is finished. */
  complete(total) {
    if (total < this.nextIndex) throw new RangeError("fewer segments than were already scheduled");
    this.total = total;
    for (const index of this.pending.keys()) if (index >= total) this.pending.delete(index);
  }

  /** Schedule the next segment if it has arrived, or return null; call until null, every frame. */
  scheduleNext(clock) {
    const next = this.pending.get(this.nextIndex);
    if (!next || this.scheduled.some((entry) => entry.partial)) return null;
    next.startTime = Math.max(this.lastEnd, clock + this.leadS);
    next.endTime = next.startTime + next.durationS;
    this.pending.delete(this.nextIndex);
    this.scheduled.push(next);
    this.lastEnd = next.endTime;
    this.nextIndex += 1;
    return next;
  }

  /** What plays at `clock`: {state: "waiting" | "playing" | "finished", segment, localTime}. */
  locate(clock) {
    let laterAudio = false;
    for (const segment of this.scheduled) {
      if (segment.startTime <= clock && clock < segment.endTime) {
        return { state: "playing", segment, localTime: clock - segment.startTime + segment.offsetS };
      }
      if (segment.endTime > clock) laterAudio = true;
    }
    const allScheduled = this.total !== null && this.nextIndex >= this.total;
    const restToCome = this.scheduled.some((segment) => segment.partial);
    return { state: allScheduled && !laterAudio && !restToCome ? "finished" : "waiting", segment: null, localTime: 0 };
  }

  /**
   * Move to `clock` (never backwards): the position, plus `motions` — every motion that came due
   * since the last call, each exactly once, as {segmentIndex, name, dueTime}.
   */
  advance(clock) {
    const motions = [];
    for (const segment of this.scheduled) {
      if (segment.startTime > clock) break;
      while (segment.fired < segment.motions.length) {
        const motion = segment.motions[segment.fired];
        const dueTime = segment.startTime + motion.t - segment.offsetS;
        if (dueTime > clock) break;
        motions.push({ segmentIndex: segment.index, name: motion.name, dueTime });
        segment.fired += 1;
      }
    }
    const position = this.locate(clock);
    this.scheduled = this.scheduled.filter((s) => s.partial || s.endTime > clock || s.fired < s.motions.length);
    return { ...position, motions };
  }
}

/**
 * What a job (GET /v1/jobs/{id}) asks of the player: `fetch`, its ready segments not yet in
 * `requested` (a Set of indices), and `total`, the number of segments the turn will play once
 * known: all of them when the job completed, the ready run from index 0 when it failed.
 */
export function jobProgress(job, requested = new Set()) {
  const segments = (job && job.segments) || [];
  const playable = segments.filter((s) => s.ready && s.audio_url);
  const fetch = playable.filter((s) => !requested.has(s.index)).sort((a, b) => a.index - b.index);
  let total = null;
  if (job && job.status === "completed") total = job.segments_total ?? segments.length;
  if (job && job.status === "failed") {
    const ready = new Set(playable.map((s) => s.index));
    total = 0;
    while (ready.has(total)) total += 1;
  }
  return { fetch, total };
}
