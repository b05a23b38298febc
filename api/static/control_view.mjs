// What the control panel (/control) shows, worked out from the API's answers: pure functions with no
// DOM, so node's test runner checks them. control.js puts their results on the page.

export const STT_MODES = ["auto", "gpu", "cpu"];
export const STAGES = ["stt", "llm", "tts", "animation"];
const ENDED = new Set(["completed", "failed", "interrupted"]);

/** Seconds as the panel prints them: "0.42 s", "12.3 s", "—" when unknown. */
export function seconds(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value < 10 ? `${value.toFixed(2)} s` : `${value.toFixed(1)} s`;
}

/** A line shortened to `max` characters with an ellipsis; "" for nothing. */
export function shorten(text, max = 60) {
  if (!text) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "12:04:05" in the viewer's own time zone, from an ISO date. */
export function clockTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour12: false });
}

/** One row of the recent-jobs table: the cells as text, in the table's column order. */
export function jobRow(job) {
  const timings = job.timings || {};
  const state = job.status === "running" && job.stage ? `running (${job.stage})` : job.status;
  return {
    id: job.id,
    status: job.status,
    cells: [
      clockTime(job.created_at),
      job.kind,
      state,
      shorten(job.input_text || ""),
      shorten(job.error ? `${job.error.code}: ${job.error.message}` : job.reply_text || ""),
      ...STAGES.map((stage) => seconds(timings[stage] ? timings[stage].seconds : null)),
      ENDED.has(job.status) ? seconds(job.total_s) : "…",
    ],
  };
}

/** A batch's progress: the share of files finished (done or failed) and a label for it. */
export function batchProgress(batch) {
  const { files_total: total, files_done: done, files_failed: failed } = batch.progress;
  const finished = done + failed;
  const share = total > 0 ? finished / total : 1;
  const label = `${finished}/${total} files` + (failed ? ` (${failed} failed)` : "");
  return { share, label };
}

/** The STT routing in words, e.g. "auto: routes to the CPU pool (no GPU worker alive)". */
export function routingText(stt) {
  const target = stt.routes_to === "gpu" ? "the GPU pool" : "the CPU pool";
  const gpus = stt.gpu_workers.length;
  const alive = gpus ? `${gpus} GPU worker${gpus === 1 ? "" : "s"} alive` : "no GPU worker alive";
  return `${stt.mode}: routes to ${target} (${alive})`;
}

/** Pools in display order with a count of their workers; a pool with none is `down`. */
export function poolRows(pools) {
  return pools.map((pool) => ({
    pool: pool.pool,
    device: pool.device.toUpperCase(),
    online: pool.workers.length,
    down: pool.workers.length === 0,
    workers: pool.workers.map((name) => name.split("@")[0]).join(", "),
    queues: pool.queues.join(", "),
  }));
}

/** Messages waiting in every queue together, and the busiest queue (null when all are empty). */
export function queueSummary(queues) {
  const waiting = queues.reduce((sum, queue) => sum + queue.depth, 0);
  const busiest = queues.reduce((top, queue) => (queue.depth > 0 && (!top || queue.depth > top.depth) ? queue : top), null);
  return { waiting, busiest: busiest ? busiest.name : null };
}

/** An API error body ({error: {code, message}}) as one line; a fallback for anything else. */
export function errorText(status, body) {
  const error = body && body.error;
  return error ? `${error.code}: ${error.message}` : `HTTP ${status}`;
}
