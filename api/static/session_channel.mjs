// A browser's side of the session channel (WS /v1/sessions/{id}/ws; README, "Session channel"):
// connect with the key, hand each event over once and in order, reconnect after a drop with the
// last id (`?after=`), give up on a refusal (close codes 4400, 4401, 4404). If a WebSocket never
// opens (a proxy that does not pass them), the session's SSE stream takes over: the browser's
// EventSource resumes by itself with Last-Event-ID. The URL and frame helpers are pure.
import { EVENT_TYPES } from "./turn_feed.mjs";
import { idAfter } from "./channel_queue.mjs";

export const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000];
export const REFUSALS = new Map([
  [4400, "the resume id was refused"],
  [4401, "the API key is missing or not valid"],
  [4404, "no such session for this key"],
]);
const FAILED_OPENS_BEFORE_SSE = 2; // WebSockets that never opened before trying server-sent events

/** The channel's URL relative to `base` (the page's URL), ws: or wss: as the page is http: or https:. */
export function channelUrl(base, sessionId, key, after = null) {
  const url = new URL(`v1/sessions/${encodeURIComponent(sessionId)}/ws`, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (key) url.searchParams.set("access_token", key);
  if (after) url.searchParams.set("after", after);
  return url.toString();
}

/** One text frame as {id, event, data}; null for a ping or anything unreadable. */
export function parseFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  if (!frame || typeof frame.event !== "string" || frame.event === "ping" || typeof frame.id !== "string") return null;
  return { id: frame.id, event: frame.event, data: frame.data };
}

/**
 * Follow the session: `onEvent(type, data, id)` for every event once, in order; `onState(state,
 * detail)` with "connecting" | "open" | "retrying" | "refused" | "sse". `base` is the URL the API's
 * paths are relative to. Returns `close()`.
 */
export function openSessionChannel({ base, sessionId, key, onEvent, onState = () => {} }) {
  let last = null; // the last id handed over: the resume point, and the guard against repeats
  let failures = 0;
  let opened = false;
  let closed = false;
  let socket = null;
  let source = null;
  let timer = null;

  const deliver = (id, type, data) => {
    if (!idAfter(id, last)) return; // already handed over (a reconnect's overlap)
    last = id;
    onEvent(type, data, id);
  };

  function connect() {
    onState("connecting");
    socket = new WebSocket(channelUrl(base, sessionId, key, last));
    socket.onopen = () => {
      opened = true;
      failures = 0;
      onState("open");
    };
    socket.onmessage = (message) => {
      const frame = parseFrame(message.data);
      if (frame) deliver(frame.id, frame.event, frame.data);
    };
    socket.onclose = (event) => {
      socket = null;
      if (closed) return;
      if (REFUSALS.has(event.code)) return onState("refused", REFUSALS.get(event.code));
      failures += 1;
      if (!opened && failures >= FAILED_OPENS_BEFORE_SSE && "EventSource" in window) return followSse();
      onState("retrying", event.code);
      timer = setTimeout(connect, RETRY_MS[Math.min(failures, RETRY_MS.length) - 1]);
    };
  }

  function followSse() {
    onState("sse");
    const url = new URL(`v1/sessions/${encodeURIComponent(sessionId)}/events`, base);
    if (key) url.searchParams.set("access_token", key);
    source = new EventSource(url);
    for (const type of [...EVENT_TYPES, "avatar.command"]) {
      source.addEventListener(type, (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        deliver(message.lastEventId, type, data);
      });
    }
  }

  connect();
  return function close() {
    closed = true;
    clearTimeout(timer);
    if (socket) socket.close(1000);
    if (source) source.close();
  };
}
