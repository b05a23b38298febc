// node --test api/static/overlay.test.mjs
// The overlay's pure parts: the session's turns in play order (channel_queue.mjs), manual commands
// (avatar_commands.mjs), the face's shapes (face.mjs) and the channel's URL and frames
// (session_channel.mjs). Expected values are written out by hand, never derived from the modules.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { AvatarControl, gazeToward } from "./avatar_commands.mjs";
import { ChannelQueue, idAfter } from "./channel_queue.mjs";
import { faceShapes, mouthOpening } from "./face.mjs";
import { channelUrl, parseFrame } from "./session_channel.mjs";
import { restFrame } from "./track.mjs";

const TRACK = { schema_version: "1.0", duration_s: 1 };
const ev = (type, job, fields = {}) => [type, { type, job_id: job, session_id: "s1", at: "2026-11-29T05:00:00Z", ...fields }];
const seg = (index, extra = {}) => ({ index, text: `line ${index}`, emotion: "neutral", motions: [], ready: false, ...extra });
const audio = (job, index) => ev("segment.audio_ready", job, { segment: seg(index, { audio_url: `v1/audio/${job}${index}`, audio_id: `${job}${index}` }) });
const animated = (job, index) =>
  ev("segment.animation_ready", job, { segment: seg(index, { audio_url: `v1/audio/${job}${index}`, audio_id: `${job}${index}`, ready: true, animation: TRACK }) });
const at = (job, index) => ({ index, audio_id: `${job}${index}` }); // what a load action named
const completed = (job, total) => ev("job.completed", job, { segments_total: total });

/** Feed events; returns the actions as short strings. */
function feed(queue, events) {
  return events.flatMap(([type, data]) => queue.apply(type, data)).map((a) => {
    if (a.kind === "load") return `load ${a.jobId}:${a.index}`;
    if (a.kind === "stop") return `stop ${a.jobId}`;
    return `command ${a.command.action}`;
  });
}

/** Play everything playable at `t`, marking each as loaded first; the order it played in. */
function playAll(queue, t = 10) {
  const order = [];
  for (let next; (next = queue.next(t)); ) {
    order.push(`${next.jobId}:${next.index}`);
    queue.played(next.jobId, next.index);
  }
  return order;
}

describe("channel queue", () => {
  test("turns play in the order they began, each segment in index order, after its audio loads", () => {
    const q = new ChannelQueue();
    const actions = feed(q, [
      ev("job.queued", "A"),
      ev("job.queued", "B"),
      audio("B", 0),
      audio("A", 1),
      audio("A", 0),
      animated("A", 0),
      animated("A", 1),
      animated("B", 0),
      completed("A", 2),
      completed("B", 1),
    ]);
    assert.deepEqual(actions, ["load B:0", "load A:1", "load A:0"]);
    assert.equal(q.next(10), null, "nothing is loaded yet");
    q.loaded("B", at("B", 0), "b0", 1);
    q.loaded("A", at("A", 1), "a1", 1);
    assert.equal(q.next(10), null, "A:0 comes first and is not loaded");
    q.loaded("A", at("A", 0), "a0", 1);
    assert.deepEqual(playAll(q), ["A:0", "A:1", "B:0"]);
    assert.equal(q.busy, false);
  });

  test("a segment waits briefly for its track, then plays without it; the track joins later", () => {
    const q = new ChannelQueue({ trackGraceS: 0.25 });
    feed(q, [ev("job.queued", "A"), audio("A", 0)]);
    q.loaded("A", at("A", 0), "a0", 5.0);
    assert.equal(q.next(5.1), null);
    const next = q.next(5.3);
    assert.equal(next.index, 0);
    assert.equal(next.segment.track, null);
    feed(q, [animated("A", 0)]);
    assert.deepEqual(next.segment.track, TRACK, "the playing segment sees its track arrive");
  });

  test("audio that failed to load is skipped, not waited for", () => {
    const q = new ChannelQueue();
    feed(q, [ev("job.queued", "A"), animated("A", 0), animated("A", 1), completed("A", 2)]);
    feed(q, [audio("A", 0), audio("A", 1)]); // repeats change nothing
    q.loaded("A", at("A", 0), null, 0);
    q.loaded("A", at("A", 1), "a1", 0);
    assert.deepEqual(playAll(q), ["A:1"]);
  });

  test("an interrupt stops the turn and drops what it had not played; the next turn follows", () => {
    const q = new ChannelQueue();
    const actions = feed(q, [
      ev("job.queued", "A"),
      animated("A", 0),
      animated("A", 1),
      ev("job.queued", "B"),
      animated("B", 0),
      completed("B", 1),
    ]);
    assert.deepEqual(actions, ["load A:0", "load A:1", "load B:0"]);
    for (const [job, index] of [["A", 0], ["A", 1], ["B", 0]]) q.loaded(job, at(job, index), `${job}${index}`, 0);
    const first = q.next(10);
    assert.equal(`${first.jobId}:${first.index}`, "A:0");
    const stop = feed(q, [ev("job.interrupted", "A", { interruption: { heard_segments: 1, heard_text: "line 0" } })]);
    assert.deepEqual(stop, ["stop A"]);
    assert.equal(q.loaded("A", at("A", 1), "late", 0), false, "audio of a dropped turn is not wanted");
    assert.deepEqual(playAll(q), ["B:0"]);
    assert.deepEqual(feed(q, [completed("A", 2), animated("A", 1)]), [], "news of a dropped turn is ignored");
  });

  test("a new LLM attempt stops the turn and starts its segments over", () => {
    const q = new ChannelQueue();
    const attempt = (n, id) => ev("segment.audio_ready", "A", { attempt: n, segment: seg(0, { audio_url: `v1/audio/${id}`, audio_id: id }) });
    assert.deepEqual(feed(q, [ev("job.queued", "A"), attempt(1, "x")]), ["load A:0"]);
    q.loaded("A", { index: 0, audio_id: "x" }, "x", 0);
    assert.equal(q.next(10).media, "x");
    assert.deepEqual(feed(q, [attempt(2, "y")]), ["stop A", "load A:0"]);
    assert.equal(q.next(10), null, "the new attempt's audio is not loaded yet");
    assert.equal(q.loaded("A", { index: 0, audio_id: "x" }, "x again", 0), false, "a late load of the old attempt");
    assert.equal(q.next(10), null);
    assert.equal(q.loaded("A", { index: 0, audio_id: "y" }, "y", 0), true);
    assert.equal(q.next(10).media, "y");
  });

  test("a failed turn plays the run of segments that have audio", () => {
    const q = new ChannelQueue();
    feed(q, [ev("job.queued", "A"), animated("A", 0), animated("A", 2), ev("job.failed", "A", { error: { code: "tts_failed", message: "x" } })]);
    q.loaded("A", at("A", 0), "a0", 0);
    q.loaded("A", at("A", 2), "a2", 0);
    assert.deepEqual(playAll(q), ["A:0"]);
    assert.equal(q.busy, false);
  });

  test("a streamed start plays at once; the whole goes on from where it ended, after a pause if late", () => {
    const q = new ChannelQueue();
    const started = ev("segment.audio_started", "A", { segment: seg(0, { audio_url: "v1/audio/A0s", audio_id: "A0s" }) });
    assert.deepEqual(feed(q, [ev("job.queued", "A"), started]), ["load A:0"]);
    q.loaded("A", { index: 0, audio_id: "A0s" }, "a0-start", 1);
    const first = q.next(1);
    assert.deepEqual([first.media, first.fromS], ["a0-start", 0], "no wait for a track: it comes with the whole");
    q.played("A", 0, 1.25);
    assert.equal(q.next(3), null, "the start has played; the whole is still being made");
    assert.deepEqual(feed(q, [audio("A", 0), audio("A", 1)]), ["load A:0", "load A:1"]);
    assert.equal(q.next(3), null, "the whole is loading");
    assert.ok(q.loaded("A", at("A", 0), "a0", 3));
    q.loaded("A", at("A", 1), "a1", 3);
    feed(q, [animated("A", 0), animated("A", 1), completed("A", 2)]);
    const rest = q.next(3.1);
    assert.deepEqual([rest.index, rest.media, rest.fromS], [0, "a0", 1.25]);
    assert.equal(rest.segment.track, TRACK, "the track joins the rest");
    q.played("A", 0);
    assert.deepEqual([q.next(5).media, q.next(5).fromS], ["a1", 0]);
    q.played("A", 1);
    assert.equal(q.next(6), null);
    assert.equal(q.busy, false);
  });

  test("a whole that comes while its start still loads takes its place; a failed turn ends at its start", () => {
    const q = new ChannelQueue();
    const started = ev("segment.audio_started", "A", { segment: seg(0, { audio_url: "v1/audio/A0s", audio_id: "A0s" }) });
    feed(q, [started, audio("A", 0)]);
    assert.equal(q.loaded("A", { index: 0, audio_id: "A0s" }, "a0-start", 1), false, "not wanted any more");
    q.loaded("A", at("A", 0), "a0", 1);
    feed(q, [animated("A", 0), completed("A", 1)]);
    assert.deepEqual([q.next(2).media, q.next(2).fromS], ["a0", 0]);

    const cut = new ChannelQueue();
    feed(cut, [ev("segment.audio_started", "B", { segment: seg(0, { audio_url: "v1/audio/B0s", audio_id: "B0s" }) })]);
    cut.loaded("B", { index: 0, audio_id: "B0s" }, "b0-start", 1);
    assert.equal(cut.next(1).media, "b0-start");
    feed(cut, [ev("job.failed", "B", { error: { code: "tts_failed", message: "gone" } })]);
    cut.played("B", 0, 1.0);
    assert.equal(cut.next(2), null);
    assert.equal(cut.busy, false, "the start was all of it");
  });

  test("avatar commands come out at once, whatever is playing; unknown events are ignored", () => {
    const q = new ChannelQueue();
    const command = { action: "expression", expression: "happy", weight: 1, duration_s: 2 };
    const actions = feed(q, [
      ev("job.queued", "A"),
      ev("avatar.command", "C", { command }),
      ev("job.completed", "C"),
      ev("stage.quantum", "A"),
      ["segment.audio_ready", null],
    ]);
    assert.deepEqual(actions, ["command expression"]);
    assert.deepEqual(playAll(q), []);
    assert.equal(q.busy, true, "A is still in progress");
  });

  test("entry ids compare as numbers, not as text", () => {
    assert.equal(idAfter("10-0", "9-5"), true);
    assert.equal(idAfter("10-2", "10-10"), false);
    assert.equal(idAfter("10-10", "10-2"), true);
    assert.equal(idAfter("10-2", "10-2"), false);
    assert.equal(idAfter("1-0", null), true);
    assert.equal(idAfter("nope", null), false);
  });
});

describe("avatar commands", () => {
  test("an expression fades in, holds and fades out over its duration", () => {
    const control = new AvatarControl();
    control.apply({ action: "expression", expression: "surprised", weight: 0.8, duration_s: 2, fade_s: 0.5 }, 100);
    assert.equal(control.expressionWeight(99.9), 0);
    assert.equal(control.expressionWeight(100.25), 0.4);
    assert.equal(control.expressionWeight(101), 0.8);
    assert.equal(control.expressionWeight(101.75), 0.4);
    assert.equal(control.expressionWeight(102), 0);
  });

  test("the manual expression takes its weight over the track's, which give way", () => {
    const control = new AvatarControl();
    control.apply({ action: "expression", expression: "sad", weight: 1, duration_s: 3, fade_s: 0 }, 0);
    const track = { happy: 0.6, angry: 0, sad: 0, relaxed: 0.2, surprised: 0, neutral: 0 };
    assert.deepEqual(control.blend(track, 1), { happy: 0, angry: 0, sad: 1, relaxed: 0, surprised: 0, neutral: 0 });
    assert.deepEqual(control.blend(track, 3), track, "over: the track alone");
  });

  test("look_at turns the gaze, reset clears everything, unknown commands change nothing", () => {
    const control = new AvatarControl();
    assert.equal(control.apply({ action: "look_at", x: 1, y: -0.25, z: 1 }, 0), null);
    assert.deepEqual(control.gaze, { x: 1, y: -0.25 });
    assert.deepEqual(control.apply({ action: "motion", motion: "wave" }, 0), { motion: "wave" });
    control.apply({ action: "expression", expression: "happy" }, 0);
    assert.equal(control.expressionWeight(1), 1, "defaults: weight 1 for 2 s");
    assert.equal(control.apply({ action: "dance" }, 0), null);
    assert.equal(control.apply({ action: "expression", expression: "smug" }, 0), null);
    assert.equal(control.expression.name, "happy");
    assert.deepEqual(control.apply({ action: "reset" }, 1), { reset: true });
    assert.equal(control.expression, null);
    assert.deepEqual(control.gaze, { x: 0, y: 0 });
  });

  test("gaze is clamped and needs finite numbers", () => {
    assert.deepEqual(gazeToward({ x: 5, y: 0, z: 1 }), { x: 1, y: 0 });
    assert.deepEqual(gazeToward({ x: -0.5, y: 0.5, z: 2 }), { x: -0.25, y: 0.25 });
    assert.deepEqual(gazeToward({ x: Number.NaN, y: 0, z: 1 }), { x: 0, y: 0 });
  });
});

describe("face", () => {
  test("a closed mouth at rest, an open one on aa", () => {
    const rest = restFrame();
    assert.equal(mouthOpening(rest.mouth), 0);
    assert.equal(faceShapes(rest).opening, 0);
    assert.equal(faceShapes(rest).mouth, "M 78 140 Q 100 139 122 140 Q 100 141 78 140 Z");
    const open = { ...rest, mouth: { ...rest.mouth, aa: 1 } };
    assert.equal(faceShapes(open).opening, 1);
    assert.equal(faceShapes(open).mouth, "M 76.9 140 Q 100 113 123.1 140 Q 100 167 76.9 140 Z");
    assert.equal(mouthOpening({ aa: 1, ih: 1, ou: 1, ee: 1, oh: 1 }), 1.2);
  });

  test("expressions colour and shape the face; blink closes the eyes; gaze moves them", () => {
    const rest = restFrame();
    assert.equal(faceShapes(rest).skin, "rgb(255,224,196)");
    const angry = faceShapes({ ...rest, expressions: { ...rest.expressions, angry: 1 } });
    assert.equal(angry.skin, "rgb(255,165,150)");
    assert.deepEqual(angry.browLeft, [56, 69, 82, 78]);
    assert.equal(faceShapes({ ...rest, expressions: { ...rest.expressions, happy: 1 } }).cheekOpacity, 0.7);
    assert.equal(faceShapes({ ...rest, blink: 1 }).eye.ry, 0.8);
    assert.deepEqual(faceShapes(rest, { x: 1, y: 1 }).eyeShift, { dx: 6, dy: -5 });
    assert.deepEqual(faceShapes(rest, { x: -3, y: 0 }).eyeShift, { dx: -6, dy: 0 });
  });
});

describe("session channel", () => {
  test("the URL is relative to the API root, ws or wss as the page, with the key and resume id", () => {
    assert.equal(
      channelUrl("http://host:8000/", "s1", "vtk_a", null),
      "ws://host:8000/v1/sessions/s1/ws?access_token=vtk_a",
    );
    assert.equal(
      channelUrl("https://example.com/vt/", "s 1", "k", "17-3"),
      "wss://example.com/vt/v1/sessions/s%201/ws?access_token=k&after=17-3",
    );
  });

  test("frames: events with an id are kept, pings and junk are not", () => {
    assert.deepEqual(parseFrame('{"id": "1-0", "event": "job.queued", "data": {"job_id": "j"}}'), {
      id: "1-0",
      event: "job.queued",
      data: { job_id: "j" },
    });
    assert.equal(parseFrame('{"event": "ping"}'), null);
    assert.equal(parseFrame("not json"), null);
    assert.equal(parseFrame('{"event": "job.queued"}'), null);
  });
});
