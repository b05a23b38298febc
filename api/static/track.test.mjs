// node --test api/static/track.test.mjs
// Unit cases for track.mjs, plus the contract: with VTUBER_WEB_CONTRACT pointing at a fixture that
// tests/integration/test_web_player.py writes (tracks built by the backend, with the Python
// reference sampler's weights), JS sampling must equal Python's. Without it those cases skip.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import {
  EMOTIONS,
  MOUTH_SHAPES,
  SegmentScheduler,
  VISEMES,
  blinkWeight,
  jobProgress,
  restFrame,
  sampleCurve,
  sampleTrack,
  validateTrack,
} from "./track.mjs";

const TOLERANCE = 1e-6;
const flat = (duration, w) => [{ t: 0, w }, { t: duration, w }];

function handMadeTrack(duration = 1, extra = {}) {
  const group = (names) => Object.fromEntries(names.map((name) => [name, flat(duration, 0)]));
  return {
    schema_version: "1.0",
    duration_s: duration,
    source: "alignment",
    emotion: "neutral",
    mouth: group(MOUTH_SHAPES),
    visemes: { ...group(VISEMES), sil: flat(duration, 1) },
    expressions: group(EMOTIONS),
    blinks: [],
    motions: [],
    ...extra,
  };
}

describe("sampleCurve", () => {
  const curve = [{ t: 0, w: 0 }, { t: 0.5, w: 1 }, { t: 1, w: 0.2 }];

  test("interpolates linearly between keyframes and hits them exactly", () => {
    assert.equal(sampleCurve(curve, 0), 0);
    assert.equal(sampleCurve(curve, 0.25), 0.5);
    assert.equal(sampleCurve(curve, 0.5), 1);
    assert.ok(Math.abs(sampleCurve(curve, 0.75) - 0.6) < 1e-12);
    assert.equal(sampleCurve(curve, 1), 0.2);
  });

  test("holds the end weights before 0 and after the end, never extrapolating", () => {
    assert.equal(sampleCurve(curve, -3), 0);
    assert.equal(sampleCurve(curve, 1.0001), 0.2);
    assert.equal(sampleCurve(curve, 99), 0.2);
    assert.equal(sampleCurve(curve, Number.NaN), 0);
  });

  test("clamps weights into [0, 1] and reads a missing curve as 0", () => {
    assert.equal(sampleCurve([{ t: 0, w: 2 }, { t: 1, w: -1 }], 0), 1);
    assert.equal(sampleCurve([{ t: 0, w: 2 }, { t: 1, w: -1 }], 1), 0);
    assert.equal(sampleCurve(undefined, 0.5), 0);
    assert.equal(sampleCurve([], 0.5), 0);
    assert.equal(sampleCurve([{ t: 0, w: 0.4 }], 7), 0.4);
  });
});

describe("blinks", () => {
  const blinks = [{ t: 1, duration_s: 0.2 }, { t: 3, duration_s: 0.1 }];

  test("rise 0 → 1 over the first half and fall back to 0", () => {
    const at = (t) => blinkWeight(blinks, t);
    assert.equal(at(1), 0);
    assert.ok(Math.abs(at(1.05) - 0.5) < 1e-9);
    assert.ok(Math.abs(at(1.1) - 1) < 1e-9);
    assert.ok(Math.abs(at(1.15) - 0.5) < 1e-9);
    assert.equal(at(1.2), 0);
    assert.equal(at(2), 0);
    assert.ok(Math.abs(at(3.05) - 1) < 1e-9);
    assert.equal(at(0.5), 0);
    assert.ok(at(1.04) < at(1.06) && at(1.14) > at(1.16), "monotonic halves");
  });

  test("sampleTrack reports the blink with every channel of the contract", () => {
    const frame = sampleTrack(handMadeTrack(4, { blinks }), 1.1);
    assert.ok(Math.abs(frame.blink - 1) < 1e-9);
    assert.deepEqual(Object.keys(frame.mouth), MOUTH_SHAPES);
    assert.deepEqual(Object.keys(frame.visemes), VISEMES);
    assert.deepEqual(Object.keys(frame.expressions), EMOTIONS);
    assert.equal(frame.visemes.sil, 1);
    const empty = sampleTrack(null, 0.3);
    assert.deepEqual(empty.mouth, restFrame().mouth);
    assert.equal(empty.blink, 0);
    assert.equal(restFrame().visemes.sil, 1);
  });
});

describe("validateTrack", () => {
  test("accepts a well-formed track", () => {
    assert.deepEqual(validateTrack(handMadeTrack(2, { motions: [{ name: "wave", t: 0 }] })), []);
  });

  test("names each broken guarantee", () => {
    const track = handMadeTrack(2, {
      schema_version: "2.0",
      blinks: [{ t: 1.95, duration_s: 0.15 }],
      motions: [{ name: "nod", t: 1 }, { name: "wave", t: 0.5 }, { name: "", t: 3 }],
    });
    track.mouth.aa = [{ t: 0, w: 0 }, { t: 1.5, w: 0 }];
    track.mouth.ih = [{ t: 0, w: 0 }, { t: 1, w: 1.5 }, { t: 1, w: 0 }, { t: 2, w: 0 }];
    delete track.visemes.PP;
    track.expressions.smug = flat(2, 0);
    const problems = validateTrack(track).join("\n");
    for (const expected of [
      "schema_version '2.0' is not 1.0",
      "mouth.aa must start at 0 and end at duration_s",
      "mouth.ih has a weight outside [0, 1]",
      "mouth.ih keyframe times must increase",
      "visemes.PP is missing",
      "expressions.smug is not part of the contract",
      "blink at 1.95 s lies outside the audio",
      "motions are not sorted by time",
      "motion at 3 s has no name",
    ]) {
      assert.ok(problems.includes(expected), `missing "${expected}" in:\n${problems}`);
    }
  });

  test("refuses what is not a track at all", () => {
    assert.deepEqual(validateTrack(null), ["no track"]);
    assert.ok(validateTrack({ schema_version: "1.0", duration_s: 0 }).includes("duration_s must be > 0"));
  });
});

describe("SegmentScheduler", () => {
  const track = (duration, motions = []) => handMadeTrack(duration, { motions });

  test("plays segments in index order, back to back, whatever order they arrive in", () => {
    const queue = new SegmentScheduler({ leadS: 0.05 });
    assert.ok(queue.add(1, 2.0, track(2.0), "b"));
    assert.equal(queue.scheduleNext(0), null, "segment 0 has not arrived");
    assert.ok(queue.add(0, 1.5, track(1.5), "a"));
    assert.ok(!queue.add(0, 1.5, track(1.5), "a"), "duplicates are refused");
    const first = queue.scheduleNext(10);
    const second = queue.scheduleNext(10);
    assert.equal(queue.scheduleNext(10), null);
    assert.deepEqual([first.payload, second.payload], ["a", "b"]);
    assert.equal(first.startTime, 10.05);
    assert.equal(second.startTime, first.endTime, "gapless handover");
    assert.ok(!queue.add(1, 2.0, track(2.0), "b"), "already played");
  });

  test("hands over at the boundary and waits, then starts a late segment as soon as it can", () => {
    const queue = new SegmentScheduler({ leadS: 0.1 });
    queue.add(0, 1.0, track(1.0), "a");
    queue.add(1, 0.5, track(0.5), "b");
    queue.scheduleNext(0);
    queue.scheduleNext(0);
    let at = queue.advance(1.0999);
    assert.equal(at.segment.index, 0);
    assert.ok(Math.abs(at.localTime - 0.9999) < 1e-9);
    at = queue.advance(1.1);
    assert.equal(at.segment.index, 1, "the next segment starts exactly when the first ends");
    assert.equal(at.localTime, 0);
    at = queue.advance(1.7);
    assert.equal(at.state, "waiting", "more audio may come");
    queue.add(2, 1.0, track(1.0), "c");
    assert.equal(queue.scheduleNext(5).startTime, 5.1, "a late segment cannot start in the past");
    queue.complete(3);
    assert.equal(queue.advance(5.5).state, "playing");
    assert.equal(queue.advance(6.2).state, "finished");
  });

  test("completes: segments beyond the total are dropped and refused", () => {
    const queue = new SegmentScheduler();
    queue.add(0, 1, track(1), "a");
    queue.add(2, 1, track(1), "c");
    queue.complete(1);
    assert.ok(!queue.add(1, 1, track(1), "b"));
    assert.ok(queue.scheduleNext(0));
    assert.equal(queue.scheduleNext(0), null);
    assert.equal(queue.advance(2).state, "finished");
    assert.throws(() => queue.complete(0), RangeError);
    assert.throws(() => queue.add(5, 0, null, "x"), RangeError);
  });

  test("fires every motion once, in time order, across segments and coarse frames", () => {
    const queue = new SegmentScheduler({ leadS: 0 });
    queue.add(0, 1.0, track(1.0, [{ name: "nod", t: 0.5 }, { name: "wave", t: 0 }]), "a");
    queue.add(1, 1.0, track(1.0, [{ name: "bow", t: 0.2 }]), "b");
    queue.scheduleNext(0);
    queue.scheduleNext(0);
    const fired = [];
    for (const clock of [0, 0, 0.3, 0.5, 0.5, 2.5, 3, 4]) fired.push(...queue.advance(clock).motions);
    assert.deepEqual(
      fired.map((m) => [m.segmentIndex, m.name, m.dueTime]),
      [[0, "wave", 0], [0, "nod", 0.5], [1, "bow", 1.2]],
    );
  });

  test("a streamed start plays at once; the whole follows it without a gap when in time", () => {
    const queue = new SegmentScheduler({ leadS: 0.1 });
    assert.ok(queue.addStart(0, 1.0, null, "start"));
    queue.add(1, 0.5, track(0.5), "b");
    const start = queue.scheduleNext(0);
    assert.equal(start.payload, "start");
    assert.equal(queue.scheduleNext(0), null, "nothing after a start until its whole");
    assert.equal(queue.advance(1.2).state, "waiting", "the start has played; its rest is to come");
    const rest = queue.extend(0, 3.0, "whole", 0.5);
    assert.deepEqual([rest.playAt, rest.offsetS, rest.entry], [1.1, 1.0, start], "from 1 s in, as the start ends");
    assert.equal(start.endTime, 3.1);
    const next = queue.scheduleNext(0.5);
    assert.equal(next.startTime, 3.1, "segment 1 after the whole");
    const at = queue.advance(2.0);
    assert.equal(at.segment.index, 0);
    assert.ok(Math.abs(at.localTime - 1.9) < 1e-9, "one clock over start and rest");
    queue.complete(2);
    assert.equal(queue.advance(3.7).state, "finished");
  });

  test("a whole that comes late plays after a pause, on the segment's own time", () => {
    const queue = new SegmentScheduler({ leadS: 0.1 });
    queue.addStart(0, 1.0, track(3.0, [{ name: "wave", t: 0.5 }, { name: "nod", t: 2.0 }]), "start");
    queue.scheduleNext(0);
    queue.complete(1);
    const fired = [...queue.advance(0.7).motions];
    assert.equal(queue.advance(1.5).state, "waiting", "a pause: neither playing nor finished");
    const rest = queue.extend(0, 3.0, "whole", 1.5);
    assert.deepEqual([rest.playAt, rest.offsetS], [1.6, 1.0]);
    assert.notEqual(rest.entry.startTime, 0.1, "an entry of its own");
    const at = queue.advance(1.6);
    assert.deepEqual([at.segment.index, at.localTime], [0, 1.0], "it resumes where the start ended");
    fired.push(...queue.advance(2.7).motions);
    assert.deepEqual(fired.map((m) => [m.name, m.dueTime]), [["wave", 0.6], ["nod", 2.6]], "each once, none in the pause");
    assert.equal(queue.advance(3.7).state, "finished");
  });

  test("a whole that comes before its start was scheduled replaces it; a start left alone ends", () => {
    const queue = new SegmentScheduler({ leadS: 0 });
    queue.addStart(0, 1.0, null, "start");
    assert.equal(queue.extend(0, 3.0, "whole", 0), null, "nothing extra to play");
    const whole = queue.scheduleNext(0);
    assert.deepEqual([whole.payload, whole.durationS], ["whole", 3.0]);
    const cut = new SegmentScheduler({ leadS: 0 });
    cut.addStart(0, 1.0, null, "start");
    cut.scheduleNext(0);
    cut.complete(1);
    assert.equal(cut.advance(1.5).state, "waiting");
    cut.dropRest(0); // the turn failed before the whole came
    assert.equal(cut.advance(1.6).state, "finished");
    assert.equal(cut.extend(0, 3.0, "whole", 2), null);
  });

  test("a segment without a track still plays, with a rest face", () => {
    const queue = new SegmentScheduler({ leadS: 0 });
    queue.add(0, 1, null, "a");
    queue.scheduleNext(0);
    const at = queue.advance(0.5);
    assert.equal(at.segment.track, null);
    assert.deepEqual(at.motions, []);
  });
});

describe("jobProgress", () => {
  const segment = (index, ready) => ({ index, ready, audio_url: ready ? `/v1/audio/a${index}` : null });

  test("fetches each ready segment once and knows the total only when the job ends", () => {
    const running = { status: "running", segments: [segment(1, true), segment(0, true), segment(2, false)] };
    let progress = jobProgress(running, new Set([1]));
    assert.deepEqual(progress.fetch.map((s) => s.index), [0]);
    assert.equal(progress.total, null);
    progress = jobProgress({ ...running, status: "completed", segments_total: 3 }, new Set());
    assert.equal(progress.total, 3);
    assert.deepEqual(progress.fetch.map((s) => s.index), [0, 1]);
    assert.equal(jobProgress({ ...running, status: "failed" }).total, 2, "the ready run from index 0");
    assert.equal(jobProgress({ status: "failed", segments: [segment(1, true)] }).total, 0);
    assert.deepEqual(jobProgress(null), { fetch: [], total: null });
  });
});

const contractFile = process.env.VTUBER_WEB_CONTRACT;
const contract = contractFile ? JSON.parse(readFileSync(contractFile, "utf8")) : null;
const skip = contract ? false : "VTUBER_WEB_CONTRACT is not set (tests/integration/test_web_player.py sets it)";

describe("backend contract", () => {
  test("tracks built by the backend validate with no problem", { skip }, () => {
    assert.ok(contract.tracks.length >= 3);
    for (const { name, track } of contract.tracks) assert.deepEqual(validateTrack(track), [], name);
  });

  test("JS sampling equals the Python reference sampler", { skip }, () => {
    let checked = 0;
    for (const { name, track, samples, blinks } of contract.tracks) {
      for (const { group, curve, t, w } of samples) {
        const got = sampleCurve(track[group][curve], t);
        assert.ok(Math.abs(got - w) <= TOLERANCE, `${name} ${group}.${curve} at ${t}: JS ${got}, Python ${w}`);
        const frame = sampleTrack(track, t);
        assert.equal(frame[group][curve], got);
        checked += 1;
      }
      for (const { t, w } of blinks) {
        const got = sampleTrack(track, t).blink;
        assert.ok(Math.abs(got - w) <= TOLERANCE, `${name} blink at ${t}: JS ${got}, expected ${w}`);
        checked += 1;
      }
    }
    assert.ok(checked > 1000, `only ${checked} samples`);
  });

  test("a job from the API's presenter plays through with every motion once", { skip }, () => {
    const { job, tracks } = { job: contract.job, tracks: contract.tracks };
    const progress = jobProgress(job);
    assert.equal(progress.total, tracks.length);
    const queue = new SegmentScheduler({ leadS: 0.05 });
    for (const segment of progress.fetch.reverse()) {
      assert.ok(queue.add(segment.index, segment.duration_s, segment.animation, segment.audio_url));
    }
    queue.complete(progress.total);
    const starts = [];
    for (let s; (s = queue.scheduleNext(0)); ) starts.push([s.startTime, s.endTime]);
    assert.equal(starts.length, tracks.length);
    for (let i = 1; i < starts.length; i++) assert.equal(starts[i][0], starts[i - 1][1], "gapless");
    const fired = [];
    const end = starts.at(-1)[1];
    for (let clock = 0; clock <= end + 0.1; clock += 1 / 60) fired.push(...queue.advance(clock).motions);
    const expected = tracks.flatMap(({ track }, index) => track.motions.map((m) => [index, m.name]));
    assert.ok(expected.length >= 2, "the fixture has motions");
    assert.deepEqual(fired.map((m) => [m.segmentIndex, m.name]), expected);
    assert.equal(queue.advance(end + 0.2).state, "finished");
  });
});
