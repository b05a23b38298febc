// One turn's progress as the player needs it, folded from either source the backend offers: the
// job's event stream (SSE, schemas/events.py) or polled job views (GET /v1/jobs/{id}, the long-poll
// fallback). Both paths share this one logic, so a turn plays the same whichever way its news comes,
// and a switch from one to the other mid-turn repeats nothing. Pure: no DOM, fetch or timers.

/** Every event type of a job's stream, in their order within a turn; the player listens to each. */
export const EVENT_TYPES = [
  "job.queued",
  "stage.started",
  "stage.finished",
  "transcript.ready",
  "segment.queued",
  "segment.audio_started",
  "segment.audio_ready",
  "segment.animation_ready",
  "job.completed",
  "job.failed",
  "job.interrupted",
];

export function createTurnFeed() {
  return new TurnFeed();
}

/**
 * `applyEvent(type, data)` and `applyJob(job)` each return the actions the news calls for, in order:
 * - `{kind: "reset", attempt}`: a new LLM attempt replaced the reply; forget every segment so far.
 * - `{kind: "start", index, segment}`: the first part of the segment's audio exists (a streaming voice
 *   engine's `segment.audio_started`); fetch it and play it while the rest is made. Once per
 *   segment, and never after its `load`.
 * - `{kind: "load", index, segment}`: the segment's audio exists; fetch it now (once per segment),
 *   without waiting for its animation track. After a `start`, it is the whole the start began.
 * - `{kind: "track", index, segment}`: its animation track arrived (`segment.animation`), once.
 * - `{kind: "total", total}`: how many segments the turn plays, when first known or when it changes
 *   (a failed turn plays only the run of segments with audio from index 0).
 * - `{kind: "end", error}`: the job completed (`error` null) or failed; nothing follows.
 * Text lives in fields the player reads after each call: `heard`, `replyText`, `stage`, `status`.
 */
export class TurnFeed {
  constructor() {
    this.attempt = 0; // the LLM attempt whose segments are kept
    this.status = "queued";
    this.stage = null;
    this.heard = null; // the transcript of a spoken utterance
    this.reply = null;
    this.total = null;
    this.ended = false;
    this.error = null;
    this.segments = new Map(); // index → {index, text, audio, started, loaded, tracked}
  }

  /** The reply as the LLM finished it, else the text of its segments so far. */
  get replyText() {
    if (this.reply && this.reply.text) return this.reply.text;
    return this.#known().map((s) => s.text).filter(Boolean).join(" ");
  }

  /** How many segments have audio (can play). */
  get audioReady() {
    return this.#known().filter((s) => s.loaded).length;
  }

  /** One SSE message: `type` is its event name, `data` the parsed JobEvent. */
  applyEvent(type, data) {
    const actions = [];
    if (this.ended || !data) return actions;
    if (data.attempt != null) {
      if (data.attempt < this.attempt) return actions; // a task of a replaced attempt, still running
      if (data.attempt > this.attempt) this.#newAttempt(data.attempt, actions);
    }
    this.status = type === "job.queued" ? "queued" : "running";
    if (data.stage) this.stage = data.stage;
    if (data.transcript && data.transcript.text) this.heard = data.transcript.text;
    if (data.reply) this.reply = data.reply;
    if (data.segment && type === "segment.audio_started") this.#noteStart(data.segment, actions);
    else if (data.segment) this.#note(data.segment, actions);
    if (data.segments_total != null) this.#setTotal(data.segments_total, actions);
    if (type === "job.completed") this.#end(null, actions);
    if (type === "job.failed") this.#end(data.error || { code: "internal_error", message: "the job failed" }, actions);
    if (type === "job.interrupted") this.#end(null, actions, data.interruption);
    return actions;
  }

  /** One polled job view (JobOut). Its segments are the current attempt's only. */
  applyJob(job) {
    const actions = [];
    if (this.ended || !job) return actions;
    const segments = [...(job.segments || [])].sort((a, b) => a.index - b.index);
    // Views carry no attempt number: a new attempt shows as audio that changed or vanished. Audio
    // is told apart by its stored id, which reads the same in an event and in a view.
    if (this.#replacedBy(segments)) this.#newAttempt(this.attempt + 1, actions);
    this.status = job.status;
    if (job.stage) this.stage = job.stage;
    if (job.transcript && job.transcript.text) this.heard = job.transcript.text;
    if (job.reply) this.reply = job.reply;
    for (const segment of segments) this.#note(segment, actions);
    if (job.segments_total != null) this.#setTotal(job.segments_total, actions);
    if (job.status === "completed") this.#end(null, actions);
    if (job.status === "failed") this.#end(job.error || { code: "internal_error", message: "the job failed" }, actions);
    if (job.status === "interrupted") this.#end(null, actions, job.interruption);
    return actions;
  }

  #known() {
    return [...this.segments.values()].sort((a, b) => a.index - b.index);
  }

  #newAttempt(attempt, actions) {
    this.attempt = attempt;
    if (this.segments.size === 0) return; // nothing of the older attempt reached the player
    this.segments.clear();
    this.reply = null;
    this.total = null;
    actions.push({ kind: "reset", attempt });
  }

  #replacedBy(segments) {
    const byIndex = new Map(segments.map((s) => [s.index, s]));
    for (const known of this.segments.values()) {
      const seen = byIndex.get(known.index);
      if (!seen) return true;
      if (known.loaded && audioOf(seen) !== known.audio) return true;
    }
    return false;
  }

  #segment(index) {
    let known = this.segments.get(index);
    if (!known) {
      known = { index, text: "", audio: null, started: false, loaded: false, tracked: false };
      this.segments.set(index, known);
    }
    return known;
  }

  #noteStart(segment, actions) {
    const { index } = segment;
    if (!Number.isInteger(index) || index < 0) return;
    const known = this.#segment(index);
    if (segment.text) known.text = segment.text;
    if (known.started || known.loaded || !segment.audio_url) return;
    known.started = true;
    actions.push({ kind: "start", index, segment });
  }

  #note(segment, actions) {
    const { index } = segment;
    if (!Number.isInteger(index) || index < 0) return;
    const known = this.#segment(index);
    if (segment.text) known.text = segment.text;
    if (!known.loaded && segment.audio_url) {
      known.loaded = true;
      known.audio = audioOf(segment);
      actions.push({ kind: "load", index, segment });
    }
    if (known.loaded && !known.tracked && segment.ready && segment.animation) {
      known.tracked = true;
      actions.push({ kind: "track", index, segment });
    }
  }

  #setTotal(total, actions) {
    if (total === this.total) return;
    this.total = total;
    actions.push({ kind: "total", total });
  }

  #end(error, actions, interruption = null) {
    this.ended = true;
    this.status = error ? "failed" : interruption ? "interrupted" : "completed";
    this.error = error;
    let run = 0; // the segments that can play: those with audio, from index 0 without a gap
    while (this.segments.get(run) && this.segments.get(run).loaded) run += 1;
    if (error) this.#setTotal(Math.min(run, this.total ?? run), actions);
    else if (interruption) this.#setTotal(Math.min(run, interruption.heard_segments ?? run), actions);
    else if (this.total === null) this.#setTotal(run, actions);
    actions.push({ kind: "end", error, interrupted: Boolean(interruption) });
  }
}

const audioOf = (segment) => segment.audio_id ?? segment.audio_url ?? null;
