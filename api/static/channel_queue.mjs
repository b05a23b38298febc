// What a session's channel asks of an avatar that only listens (the OBS overlay): turns play one
// after another in the order they began, each turn's segments back to back in index order, whoever
// started them. Each turn's events fold through turn_feed.mjs (the player's own logic), so attempts,
// totals, failures and interrupts mean the same here. A streamed start (`segment.audio_started`)
// plays as soon as it loads; its segment then goes on in the whole, from where the start ended, once
// the whole is here (a pause if it is late). Pure: no DOM, audio or timers.
import { EVENT_TYPES, createTurnFeed } from "./turn_feed.mjs";

const JOB_EVENTS = new Set(EVENT_TYPES);
const FORGET_AFTER = 500; // finished turns remembered, so a late duplicate of their end is ignored

const audioOf = (segment) => segment.audio_id ?? segment.audio_url ?? null;

/** A stream entry id ("<ms>-<seq>") as a pair of numbers; compare with `idAfter`. */
function idParts(id) {
  const match = /^(\d+)-(\d+)$/.exec(id ?? "");
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/** Whether entry id `id` comes after `last` (any id comes after null). */
export function idAfter(id, last) {
  const a = idParts(id);
  const b = idParts(last);
  if (!a) return false;
  if (!b) return true;
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

/**
 * `apply(type, data)` takes one channel event and returns what the page must do now:
 * - `{kind: "load", jobId, index, segment}`: fetch this segment's audio (then call `loaded`
 *   with the same segment): its whole, or its streamed start (a start's whole is a second load);
 * - `{kind: "stop", jobId}`: stop this turn's audio if it is playing (interrupted, or replaced
 *   by a new LLM attempt);
 * - `{kind: "command", command}`: a manual avatar command, to apply at once.
 * `next(now)` says which segment should play now; `played` moves past it.
 */
export class ChannelQueue {
  constructor({ trackGraceS = 0.25 } = {}) {
    this.trackGraceS = trackGraceS; // loaded audio waits this long for its track, then plays without
    this.turns = []; // in the order their first event came; the first one plays
    this.byJob = new Map();
    this.forgotten = new Set();
  }

  apply(type, data) {
    if (type === "avatar.command") return data && data.command ? [{ kind: "command", command: data.command }] : [];
    if (!JOB_EVENTS.has(type) || !data || typeof data.job_id !== "string") return [];
    const jobId = data.job_id;
    let turn = this.byJob.get(jobId);
    if (!turn) {
      if (this.forgotten.has(jobId)) return [];
      turn = { jobId, feed: createTurnFeed(), segments: new Map(), next: 0, total: null };
      this.turns.push(turn);
      this.byJob.set(jobId, turn);
    }
    const out = [];
    for (const action of turn.feed.applyEvent(type, data)) {
      if (action.kind === "reset") {
        turn.segments.clear();
        turn.next = 0;
        turn.total = null;
        out.push({ kind: "stop", jobId });
      } else if (action.kind === "start") {
        turn.segments.set(action.index, { ...this.#entry(action.segment), partial: true, rest: null, startDone: false });
        out.push({ kind: "load", jobId, index: action.index, segment: action.segment });
      } else if (action.kind === "load") {
        const { segment } = action;
        const started = turn.segments.get(action.index);
        if (started && started.partial && started.media !== undefined) {
          started.rest = { audio: audioOf(segment), media: undefined }; // goes on where the start ends
        } else {
          turn.segments.set(action.index, this.#entry(segment)); // a start still loading gives way
        }
        out.push({ kind: "load", jobId, index: action.index, segment });
      } else if (action.kind === "track") {
        const known = turn.segments.get(action.index);
        if (known) known.track = action.segment.animation || null;
      } else if (action.kind === "total") {
        turn.total = action.total;
      } else if (action.kind === "end" && action.interrupted) {
        this.#forget(turn);
        out.push({ kind: "stop", jobId });
      } else if (action.kind === "end") {
        for (const known of turn.segments.values()) if (!known.rest) known.partial = false; // no whole comes
      }
    }
    return out;
  }

  #entry(segment) {
    return { index: segment.index, audio: audioOf(segment), text: segment.text || "", media: undefined, track: null, loadedAt: null, partial: false };
  }

  /**
   * The audio of the `segment` a load action named is ready to play (`media`: whatever the page
   * plays), or failed (null: skipped). False when nobody wants it any more (its turn was dropped,
   * or a new attempt replaced it while it loaded): the page releases it.
   */
  loaded(jobId, segment, media, now) {
    const known = this.byJob.get(jobId)?.segments.get(segment.index);
    if (known && known.rest && known.rest.audio === audioOf(segment) && known.rest.media === undefined) {
      known.rest.media = media;
      return true;
    }
    if (!known || known.audio !== audioOf(segment) || known.media !== undefined) return false;
    known.media = media;
    known.loadedAt = now;
    return true;
  }

  /**
   * What should play at `now`: {jobId, index, text, media, segment, fromS, isStart} —
   * `segment.track` may arrive while it plays; `fromS`: where in `media` to begin (past a streamed
   * start, in the whole); `isStart`: `media` is a streamed start, its whole to follow — or null while the next segment is not ready. Turns that have played all their segments are
   * dropped on the way.
   */
  next(now) {
    while (this.turns.length > 0) {
      const turn = this.turns[0];
      if (turn.total !== null && turn.next >= turn.total) {
        this.#forget(turn);
        continue;
      }
      const segment = turn.segments.get(turn.next);
      if (!segment || segment.media === undefined) return null;
      // After a played start, what plays is its whole (none when the turn ended without it).
      const part = segment.startDone ? segment.rest : segment;
      if (!part && segment.partial) return null; // the whole is still being made: a pause
      if (part && part.media === undefined) return null;
      if (!part || part.media === null) {
        turn.next += 1; // its audio could not be fetched: a moment of silence rather than a stall
        continue;
      }
      // A start plays at once: its track comes with the whole, a second or more later.
      const isStart = segment.partial && !segment.startDone;
      if (part === segment && !isStart && !segment.track && now - segment.loadedAt < this.trackGraceS) return null;
      const fromS = segment.startDone ? segment.startS : 0;
      return { jobId: turn.jobId, index: turn.next, text: segment.text, media: part.media, segment, fromS, isStart };
    }
    return null;
  }

  /**
   * The segment finished playing (or was skipped): the turn moves to its next one. After a streamed
   * start, `playedS` (how long it played) is where its whole goes on; the turn waits for that.
   */
  played(jobId, index, playedS = 0) {
    const turn = this.byJob.get(jobId);
    if (!turn || turn.next !== index) return;
    const segment = turn.segments.get(index);
    if (segment && segment.partial && !segment.startDone) {
      segment.startDone = true;
      segment.startS = playedS;
      return;
    }
    turn.next += 1;
  }

  /** Whether anything is still to play (a turn in progress or waiting). */
  get busy() {
    return this.turns.length > 0;
  }

  #forget(turn) {
    this.turns = this.turns.filter((t) => t !== turn);
    this.byJob.delete(turn.jobId);
    this.forgotten.add(turn.jobId);
    if (this.forgotten.size > FORGET_AFTER) this.forgotten.delete(this.forgotten.values().next().value);
  }
}
