// node --test api/static/turn_feed.test.mjs
// turn_feed.mjs folds a turn's events (SSE) and polled job views (long-poll) into the same actions.
// The expected actions are written out by hand for each case, never derived from the module.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { EVENT_TYPES, createTurnFeed } from "./turn_feed.mjs";

const TRACK = { schema_version: "1.0", duration_s: 1, motions: [{ name: "nod", t: 0.2 }] };

// One segment at each step of its life, as SegmentOut carries it.
const queued = (index, attempt = 1) => ({ index, text: `part ${index}`, emotion: "happy", motions: [], ready: false, attempt });
const withAudio = (index, attempt = 1) => ({
  ...queued(index, attempt),
  audio_id: `a${attempt}-${index}`,
  audio_url: `v1/audio/a${attempt}-${index}`,
  audio_format: "wav",
  duration_s: 1,
});
const animated = (index, attempt = 1) => ({ ...withAudio(index, attempt), animation: TRACK, ready: true });
// A streaming engine's first second of the segment, stored as its own wav (segment.audio_started).
const started = (index, attempt = 1) => ({
  ...queued(index, attempt),
  audio_id: `a${attempt}-${index}-start`,
  audio_url: `v1/audio/a${attempt}-${index}-start`,
  audio_format: "wav",
  duration_s: 0.5,
});
const strip = ({ attempt, ...segment }) => segment; // SegmentOut has no attempt; the event does

const event = (type, fields = {}) => [type, { type, job_id: "j1", session_id: "s1", at: "2026-11-28T10:00:00Z", ...fields }];
const segmentEvent = (type, segment) => event(type, { stage: "llm", attempt: segment.attempt, segment: strip(segment) });
const REPLY = { text: "part 0 part 1", emotion: "happy", motions: [], done: true };
const ERROR = { code: "tts_failed", message: "the voice is gone", stage: "tts" };

// A spoken turn with two segments, in stream order.
const SPOKEN_TURN = [
  event("job.queued"),
  event("stage.started", { stage: "stt" }),
  event("stage.finished", { stage: "stt", seconds: 0.4 }),
  event("transcript.ready", { stage: "stt", transcript: { text: "hello there", language: "en", segments: [] } }),
  event("stage.started", { stage: "llm", attempt: 1 }),
  segmentEvent("segment.queued", queued(0)),
  segmentEvent("segment.audio_ready", withAudio(0)),
  segmentEvent("segment.animation_ready", animated(0)),
  segmentEvent("segment.queued", queued(1)),
  segmentEvent("segment.audio_ready", withAudio(1)),
  segmentEvent("segment.animation_ready", animated(1)),
  event("stage.finished", { stage: "llm", attempt: 1, seconds: 2, reply: REPLY, segments_total: 2 }),
  event("job.completed", { reply: REPLY, segments_total: 2 }),
];

/** Actions as short strings, so a whole turn compares in one deepEqual. */
function said(actions) {
  return actions.map((a) => {
    if (a.kind === "start" || a.kind === "load" || a.kind === "track") return `${a.kind} ${a.index}`;
    if (a.kind === "total") return `total ${a.total}`;
    if (a.kind === "reset") return `reset ${a.attempt}`;
    return a.error ? `end ${a.error.code}` : "end";
  });
}

function feedEvents(feed, events) {
  return events.flatMap(([type, data]) => feed.applyEvent(type, data));
}

function view(status, segments, fields = {}) {
  return {
    id: "j1",
    session_id: "s1",
    kind: "text",
    status,
    stage: status === "queued" ? null : "llm",
    input_text: "hi",
    segments: segments.map(strip),
    segments_total: null,
    version: `${Math.random()}`,
    ...fields,
  };
}

describe("events", () => {
  test("a spoken turn in order: heard text, each segment loaded then tracked, total, end", () => {
    const feed = createTurnFeed();
    const steps = SPOKEN_TURN.map(([type, data]) => said(feed.applyEvent(type, data)));
    assert.deepEqual(steps, [
      [], [], [], [], [],
      [], ["load 0"], ["track 0"],
      [], ["load 1"], ["track 1"],
      ["total 2"],
      ["end"],
    ]);
    assert.equal(feed.heard, "hello there");
    assert.equal(feed.replyText, "part 0 part 1");
    assert.equal(feed.total, 2);
    assert.equal(feed.ended, true);
    assert.equal(feed.status, "completed");
    assert.equal(feed.error, null);
    assert.equal(feed.audioReady, 2);
  });

  test("segment 0's audio is requested at audio_ready, before its track exists", () => {
    const feed = createTurnFeed();
    feedEvents(feed, SPOKEN_TURN.slice(0, 6));
    const actions = feed.applyEvent(...segmentEvent("segment.audio_ready", withAudio(0)));
    assert.equal(actions.length, 1);
    assert.equal(actions[0].kind, "load");
    assert.equal(actions[0].segment.audio_url, "v1/audio/a1-0");
    assert.equal(actions[0].segment.animation, undefined, "no track yet");
    assert.equal(feed.ended, false);
    assert.equal(feed.stage, "llm");
    assert.equal(feed.status, "running");
  });

  test("interleaved segments: each readiness acted on once, in the order it comes", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [
      event("job.queued"),
      event("stage.started", { stage: "llm", attempt: 1 }),
      segmentEvent("segment.queued", queued(0)),
      segmentEvent("segment.queued", queued(1)),
      segmentEvent("segment.audio_ready", withAudio(1)),
      segmentEvent("segment.audio_ready", withAudio(0)),
      segmentEvent("segment.queued", queued(2)),
      segmentEvent("segment.animation_ready", animated(1)),
      segmentEvent("segment.audio_ready", withAudio(2)),
      segmentEvent("segment.animation_ready", animated(2)),
      segmentEvent("segment.animation_ready", animated(0)),
      event("stage.finished", { stage: "llm", attempt: 1, segments_total: 3 }),
      event("job.completed", { segments_total: 3 }),
    ]);
    assert.deepEqual(said(actions), ["load 1", "load 0", "track 1", "load 2", "track 2", "track 0", "total 3", "end"]);
    assert.equal(feed.replyText, "part 0 part 1 part 2", "in index order, not arrival order");
  });

  test("a track that comes with no audio announced first still loads the audio before the track", () => {
    const feed = createTurnFeed();
    const actions = feed.applyEvent(...segmentEvent("segment.animation_ready", animated(0)));
    assert.deepEqual(said(actions), ["load 0", "track 0"]);
  });

  test("duplicates are ignored: the same event twice, and anything after the end", () => {
    const feed = createTurnFeed();
    const doubled = SPOKEN_TURN.flatMap((e) => [e, e]);
    assert.deepEqual(said(feedEvents(feed, doubled)), ["load 0", "track 0", "load 1", "track 1", "total 2", "end"]);
    assert.deepEqual(feed.applyEvent(...segmentEvent("segment.audio_ready", withAudio(2))), []);
    assert.deepEqual(feed.applyEvent(...event("job.failed", { error: ERROR })), []);
    assert.equal(feed.status, "completed");
  });

  test("a new attempt drops the older attempt's segments and ignores its late events", () => {
    const feed = createTurnFeed();
    feedEvents(feed, SPOKEN_TURN.slice(0, 8)); // attempt 1: segment 0 loaded and tracked
    feed.applyEvent(...segmentEvent("segment.queued", queued(1)));
    assert.equal(feed.replyText, "part 0 part 1");
    const actions = feedEvents(feed, [
      event("stage.started", { stage: "llm", attempt: 2 }),
      segmentEvent("segment.audio_ready", withAudio(1, 1)), // a tts task of attempt 1 finishing late
      segmentEvent("segment.queued", { ...queued(0, 2), text: "again" }),
      segmentEvent("segment.audio_ready", { ...withAudio(0, 2), text: "again" }),
    ]);
    assert.deepEqual(said(actions), ["reset 2", "load 0"]);
    assert.equal(actions[1].segment.audio_url, "v1/audio/a2-0", "the new attempt's audio");
    assert.equal(feed.replyText, "again");
    assert.equal(feed.attempt, 2);
    assert.equal(feed.audioReady, 1);
  });

  test("a new attempt before any segment resets nothing", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [
      event("stage.started", { stage: "llm", attempt: 1 }),
      event("stage.started", { stage: "llm", attempt: 2 }),
      segmentEvent("segment.audio_ready", withAudio(0, 2)),
    ]);
    assert.deepEqual(said(actions), ["load 0"]);
  });

  test("job.failed ends the turn with its error; only the audio run from index 0 plays", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [
      event("job.queued"),
      event("stage.started", { stage: "llm", attempt: 1 }),
      segmentEvent("segment.audio_ready", withAudio(0)),
      segmentEvent("segment.audio_ready", withAudio(2)),
      segmentEvent("segment.queued", queued(1)),
      event("stage.finished", { stage: "llm", attempt: 1, segments_total: 3 }),
      event("job.failed", { stage: "tts", error: ERROR }),
      segmentEvent("segment.audio_ready", withAudio(1)),
    ]);
    assert.deepEqual(said(actions), ["load 0", "load 2", "total 3", "total 1", "end tts_failed"]);
    assert.equal(feed.ended, true);
    assert.equal(feed.status, "failed");
    assert.deepEqual(feed.error, ERROR);
    assert.equal(feed.total, 1);
  });

  test("job.interrupted ends the turn at what was heard; later audio never plays", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [
      event("job.queued"),
      event("stage.started", { stage: "llm", attempt: 1 }),
      segmentEvent("segment.audio_ready", withAudio(0)),
      segmentEvent("segment.queued", queued(1)),
      event("job.interrupted", { interruption: { by: "cancel", heard_text: "part 0", heard_segments: 1 } }),
      segmentEvent("segment.audio_ready", withAudio(1)),
    ]);
    assert.deepEqual(said(actions), ["load 0", "total 1", "end"]);
    assert.equal(feed.status, "interrupted");
    assert.equal(actions.at(-1).interrupted, true);
  });

  test("a failure before any audio plays nothing", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [event("job.queued"), event("job.failed", { error: { code: "stt_failed", message: "no" } })]);
    assert.deepEqual(said(actions), ["total 0", "end stt_failed"]);
  });

  test("a streamed start is fetched first, then the whole it began, then the track", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [
      event("job.queued"),
      segmentEvent("segment.queued", queued(0)),
      segmentEvent("segment.audio_started", started(0)),
      segmentEvent("segment.audio_ready", withAudio(0)),
      segmentEvent("segment.animation_ready", animated(0)),
      event("job.completed", { reply: { ...REPLY, text: "part 0" }, segments_total: 1 }),
    ]);
    assert.deepEqual(said(actions), ["start 0", "load 0", "track 0", "total 1", "end"]);
    const [start, load] = actions;
    assert.equal(start.segment.audio_url, "v1/audio/a1-0-start");
    assert.equal(load.segment.audio_url, "v1/audio/a1-0");
    assert.equal(feed.audioReady, 1, "a start alone does not count as the segment's audio");
  });

  test("a start announced again (its synthesis retried) or after the whole is not fetched again", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [
      segmentEvent("segment.audio_started", started(0)),
      segmentEvent("segment.audio_started", started(0)),
      segmentEvent("segment.audio_ready", withAudio(0)),
      segmentEvent("segment.audio_started", started(1)),
      segmentEvent("segment.audio_ready", withAudio(1)),
      segmentEvent("segment.audio_started", started(1)),
    ]);
    assert.deepEqual(said(actions), ["start 0", "load 0", "start 1", "load 1"]);
    const late = createTurnFeed();
    assert.deepEqual(said(feedEvents(late, [segmentEvent("segment.audio_ready", withAudio(0)), segmentEvent("segment.audio_started", started(0))])), ["load 0"]);
  });

  test("a turn that fails after a start but before its whole plays only the start", () => {
    const feed = createTurnFeed();
    const actions = feedEvents(feed, [segmentEvent("segment.audio_started", started(0)), event("job.failed", { error: ERROR })]);
    assert.deepEqual(said(actions), ["start 0", "total 0", "end tts_failed"]);
    assert.ok(feed.segments.get(0).started && !feed.segments.get(0).loaded, "the player drops the rest it waits for");
  });

  test("every event type of the backend contract is listened to", () => {
    assert.deepEqual(EVENT_TYPES, [
      "job.queued", "stage.started", "stage.finished", "transcript.ready", "segment.queued", "segment.audio_started",
      "segment.audio_ready", "segment.animation_ready", "job.completed", "job.failed", "job.interrupted",
    ]);
  });
});

describe("polled job views", () => {
  // The interleaved turn above, one view per change as a long-poll would answer.
  const VIEWS = [
    view("queued", []),
    view("running", [queued(0)]),
    view("running", [queued(0), queued(1)]),
    view("running", [queued(0), withAudio(1)]),
    view("running", [withAudio(0), withAudio(1)]),
    view("running", [withAudio(0), withAudio(1), queued(2)]),
    view("running", [withAudio(0), animated(1), queued(2)]),
    view("running", [withAudio(0), animated(1), withAudio(2)]),
    view("running", [withAudio(0), animated(1), animated(2)]),
    view("running", [animated(0), animated(1), animated(2)]),
    view("running", [animated(0), animated(1), animated(2)], { segments_total: 3 }),
    view("completed", [animated(0), animated(1), animated(2)], { segments_total: 3 }),
  ];

  test("the same turn through polled views gives the same actions as its events", () => {
    const feed = createTurnFeed();
    const actions = VIEWS.flatMap((job) => feed.applyJob(job));
    assert.deepEqual(said(actions), ["load 1", "load 0", "track 1", "load 2", "track 2", "track 0", "total 3", "end"]);
    assert.equal(feed.replyText, "part 0 part 1 part 2");
    assert.equal(feed.status, "completed");
  });

  test("one coarse view acts on everything it shows, segment by segment in index order", () => {
    const feed = createTurnFeed();
    const actions = feed.applyJob(view("completed", [animated(1), animated(0)], { segments_total: 2, reply: REPLY }));
    assert.deepEqual(said(actions), ["load 0", "track 0", "load 1", "track 1", "total 2", "end"]);
    assert.equal(feed.replyText, "part 0 part 1");
  });

  test("a view repeated (a long-poll answering unchanged) and a view after events repeat nothing", () => {
    const feed = createTurnFeed();
    assert.deepEqual(said(feed.applyJob(VIEWS[4])), ["load 0", "load 1"]);
    assert.deepEqual(feed.applyJob(VIEWS[4]), []);
    const switched = createTurnFeed(); // the SSE stream broke: the player falls back to long-poll
    feedEvents(switched, [
      segmentEvent("segment.audio_ready", withAudio(0)),
      segmentEvent("segment.animation_ready", animated(0)),
    ]);
    assert.deepEqual(said(switched.applyJob(VIEWS[9])), ["load 1", "track 1", "load 2", "track 2"]);
  });

  test("a segment's track counts only once the segment is ready", () => {
    const feed = createTurnFeed();
    assert.deepEqual(said(feed.applyJob(view("running", [{ ...animated(0), ready: false }]))), ["load 0"]);
    assert.deepEqual(said(feed.applyJob(view("running", [animated(0)]))), ["track 0"]);
  });

  test("the same audio under another URL form is the same audio, not a new attempt", () => {
    const feed = createTurnFeed();
    feed.applyEvent(...segmentEvent("segment.audio_ready", { ...withAudio(0), audio_url: "https://cdn.example/v1/audio/a1-0" }));
    assert.deepEqual(feed.applyJob(view("running", [withAudio(0)])), []);
  });

  test("a spoken turn's transcript is heard from the view", () => {
    const feed = createTurnFeed();
    feed.applyJob(view("running", [], { kind: "audio", stage: "llm", transcript: { text: "hello there" } }));
    assert.equal(feed.heard, "hello there");
    assert.equal(feed.stage, "llm");
  });

  test("a new attempt shows as changed or vanished audio and drops the old segments", () => {
    const feed = createTurnFeed();
    assert.deepEqual(said(feed.applyJob(view("running", [animated(0), withAudio(1)]))), ["load 0", "track 0", "load 1"]);
    assert.deepEqual(said(feed.applyJob(view("running", [queued(0, 2)]))), ["reset 1"], "views count attempts themselves");
    const actions = feed.applyJob(view("running", [withAudio(0, 2)]));
    assert.deepEqual(said(actions), ["load 0"]);
    assert.equal(actions[0].segment.audio_url, "v1/audio/a2-0");
    // A view that skipped the in-between state: same index, other audio.
    const other = createTurnFeed();
    other.applyJob(view("running", [withAudio(0)]));
    assert.deepEqual(said(other.applyJob(view("running", [withAudio(0, 2)]))), ["reset 1", "load 0"]);
  });

  test("a failed view ends the turn with its error", () => {
    const feed = createTurnFeed();
    feed.applyJob(view("running", [withAudio(0)]));
    const actions = feed.applyJob(view("failed", [animated(0), withAudio(1)], { error: ERROR }));
    assert.deepEqual(said(actions), ["track 0", "load 1", "total 2", "end tts_failed"]);
    assert.deepEqual(feed.error, ERROR);
    assert.deepEqual(feed.applyJob(view("failed", [], { error: ERROR })), [], "nothing after the end");
  });
});
