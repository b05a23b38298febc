// node --test api/static/control_view.test.mjs
import assert from "node:assert/strict";
import test from "node:test";

import {
  batchProgress,
  errorText,
  jobRow,
  poolRows,
  queueSummary,
  routingText,
  seconds,
  shorten,
} from "./control_view.mjs";

const job = (fields) => ({
  id: "j1",
  kind: "text",
  status: "completed",
  stage: null,
  input_text: "hello",
  reply_text: "hi there",
  timings: {},
  total_s: 1.5,
  error: null,
  created_at: "2026-11-29T08:00:00Z",
  ...fields,
});

test("seconds keep two decimals below ten, one above, and a dash when unknown", () => {
  assert.equal(seconds(0.4213), "0.42 s");
  assert.equal(seconds(12.345), "12.3 s");
  assert.equal(seconds(null), "—");
  assert.equal(seconds(undefined), "—");
  assert.equal(seconds(Number.NaN), "—");
});

test("long lines are shortened with an ellipsis to the limit", () => {
  assert.equal(shorten("abcdef", 4), "abc…");
  assert.equal(shorten("abc", 4), "abc");
  assert.equal(shorten(null), "");
});

test("a job row has each stage's seconds in stage order and the total once ended", () => {
  const row = jobRow(job({ timings: { llm: { seconds: 0.8 }, stt: { seconds: 0.1 }, animation: { seconds: 0.02 } } }));
  assert.deepEqual(row.cells.slice(1, 5), ["text", "completed", "hello", "hi there"]);
  assert.deepEqual(row.cells.slice(5), ["0.10 s", "0.80 s", "—", "0.02 s", "1.50 s"]);
});

test("a running job shows its stage and no total yet", () => {
  const row = jobRow(job({ status: "running", stage: "tts", total_s: null }));
  assert.equal(row.cells[2], "running (tts)");
  assert.equal(row.cells.at(-1), "…");
});

test("a failed job shows its error code instead of a reply", () => {
  const row = jobRow(job({ status: "failed", reply_text: null, error: { code: "llm_timeout", message: "too slow" } }));
  assert.equal(row.cells[4], "llm_timeout: too slow");
});

test("batch progress counts failed files as finished and says how many failed", () => {
  assert.deepEqual(batchProgress({ progress: { files_total: 4, files_done: 1, files_failed: 1 } }), {
    share: 0.5,
    label: "2/4 files (1 failed)",
  });
  assert.deepEqual(batchProgress({ progress: { files_total: 3, files_done: 3, files_failed: 0 } }), {
    share: 1,
    label: "3/3 files",
  });
});

test("routing text names the target pool and the GPU workers alive", () => {
  assert.equal(routingText({ mode: "auto", routes_to: "cpu", gpu_workers: [] }), "auto: routes to the CPU pool (no GPU worker alive)");
  assert.equal(routingText({ mode: "gpu", routes_to: "gpu", gpu_workers: ["a", "b"] }), "gpu: routes to the GPU pool (2 GPU workers alive)");
  assert.equal(routingText({ mode: "auto", routes_to: "gpu", gpu_workers: ["a"] }), "auto: routes to the GPU pool (1 GPU worker alive)");
});

test("pool rows count workers, mark empty pools down and drop the host from names", () => {
  const rows = poolRows([
    { pool: "stt-cpu", device: "cpu", queues: ["stt.live.cpu", "stt.batch.cpu"], workers: ["stt-cpu@box", "stt-cpu-2@box"] },
    { pool: "stt-gpu", device: "gpu", queues: ["stt.live.gpu"], workers: [] },
  ]);
  assert.deepEqual(rows[0], {
    pool: "stt-cpu",
    device: "CPU",
    online: 2,
    down: false,
    workers: "stt-cpu, stt-cpu-2",
    queues: "stt.live.cpu, stt.batch.cpu",
  });
  assert.equal(rows[1].down, true);
  assert.equal(rows[1].device, "GPU");
});

test("queue summary adds the waiting messages and names the busiest queue", () => {
  assert.deepEqual(queueSummary([{ name: "llm", depth: 2 }, { name: "tts", depth: 5 }, { name: "animation", depth: 0 }]), {
    waiting: 7,
    busiest: "tts",
  });
  assert.deepEqual(queueSummary([{ name: "llm", depth: 0 }]), { waiting: 0, busiest: null });
});

test("an API error reads as its code and message; anything else as its HTTP status", () => {
  assert.equal(errorText(403, { error: { code: "forbidden", message: "admin scope required" } }), "forbidden: admin scope required");
  assert.equal(errorText(502, null), "HTTP 502");
});
