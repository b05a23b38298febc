// The control panel at /control: an admin key typed once (kept in this tab's sessionStorage), then a
// short poll of the pipeline's state (GET /v1/control/status, /v1/jobs, /v1/control/batches,
// /v1/control/chat-sources) and the STT device switch (PUT /v1/control/stt). What the page shows is
// worked out in control_view.mjs.
// For tests and debugging, <body> carries data-refreshes (polls answered) and data-stt (the mode shown).
import { STT_MODES, batchProgress, clockTime, errorText, jobRow, poolRows, queueSummary, routingText } from "./control_view.mjs";

const POLL_MS = 2000;
const KEY_STORE = "vtuber-admin-key";
const $ = (id) => document.getElementById(id);
const resolve = (path) => new URL(path, document.baseURI); // works behind any prefix
const status = document.body.dataset;
status.refreshes = "0";

let key = sessionStorage.getItem(KEY_STORE) || "";
let timer = null;
let switching = false; // a PUT in flight: the poll must not flip the radios back meanwhile

class ApiFailure extends Error {
  constructor(status, body) {
    super(errorText(status, body));
    this.status = status;
  }
}

async function request(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${key}` };
  const response = await fetch(resolve(path), { ...options, headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiFailure(response.status, body);
  return body;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// --- the key ---------------------------------------------------------------------------------

function showLogin(message = "") {
  clearTimeout(timer);
  $("panel").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  setStatus(message, Boolean(message));
  $("key").focus();
}

function showPanel() {
  $("login").hidden = true;
  $("panel").hidden = false;
  $("logout").hidden = false;
  refresh();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  key = $("key").value.trim();
  $("key").value = "";
  sessionStorage.setItem(KEY_STORE, key);
  showPanel();
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  key = "";
  showLogin();
});

// --- polling ---------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(timer);
  try {
    const [state, jobs, batches, chats] = await Promise.all([
      request("v1/control/status"),
      request("v1/jobs?limit=15"),
      request("v1/control/batches?limit=5"),
      request("v1/control/chat-sources?limit=20"),
    ]);
    render(state, jobs, batches);
    renderChats(chats.sources);
    setStatus(`Updated ${clockTime(state.checked_at)}` + (state.workers_checked ? "" : " — the workers did not answer"));
    status.refreshes = String(Number(status.refreshes) + 1);
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      sessionStorage.removeItem(KEY_STORE);
      return showLogin(`${error.message}. An admin key is needed.`);
    }
    setStatus(`Could not update: ${error.message}`, true);
  }
  if (!document.hidden) timer = setTimeout(refresh, POLL_MS);
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && key && !$("panel").hidden) refresh();
});

// --- the STT switch --------------------------------------------------------------------------

$("stt-mode").addEventListener("change", async (event) => {
  const mode = event.target.value;
  if (!STT_MODES.includes(mode)) return;
  switching = true;
  try {
    const stt = await request("v1/control/stt", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ mode }),
    });
    showStt(stt);
    setStatus(`STT device set to ${stt.mode}.`);
  } catch (error) {
    setStatus(`Could not switch: ${error.message}`, true);
  } finally {
    switching = false;
  }
  refresh();
});

function showStt(stt) {
  for (const input of document.querySelectorAll('#stt-mode input')) input.checked = input.value === stt.mode;
  $("routing").textContent = routingText(stt);
  status.stt = stt.mode;
}

// --- rendering -------------------------------------------------------------------------------

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(cells, className = "") {
  const tr = document.createElement("tr");
  if (className) tr.className = className;
  tr.append(...cells);
  return tr;
}

function link(id, href) {
  $(id).href = href;
}

function render(state, jobs, batches) {
  if (!switching) showStt(state.stt);
  link("link-docs", resolve(state.links.docs.replace(/^\//, "")).href);
  link("link-flower", state.links.flower);
  link("link-grafana", state.links.grafana);

  const summary = queueSummary(state.queues);
  $("queue-summary").textContent = summary.waiting ? `— ${summary.waiting} waiting, most in ${summary.busiest}` : "— all empty";
  $("queues").replaceChildren(
    ...state.queues.map((queue) => {
      const names = queue.workers.map((name) => name.split("@")[0]).join(", ");
      return row([cell(queue.name), cell(String(queue.depth)), cell(names || "none")], queue.workers.length ? "" : "down");
    }),
  );
  $("pools").replaceChildren(
    ...poolRows(state.pools).map((pool) => {
      const cells = [cell(pool.pool), cell(pool.device), cell(String(pool.online)), cell(pool.workers || "none", "text"), cell(pool.queues, "text")];
      const tr = row(cells, pool.down ? "down" : "");
      tr.dataset.pool = pool.pool;
      return tr;
    }),
  );
  $("jobs").replaceChildren(
    ...jobs.map((job) => {
      const { cells, id } = jobRow(job);
      const tr = row(cells.map((text, i) => cell(text, i === 3 || i === 4 ? "text" : "")), job.status === "failed" ? "failed" : "");
      tr.dataset.job = id;
      return tr;
    }),
  );
  $("batches").replaceChildren(
    ...batches.map((batch) => {
      const { share, label } = batchProgress(batch);
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = share;
      const barCell = document.createElement("td");
      barCell.append(bar);
      return row([cell(clockTime(batch.created_at)), cell(batch.id.slice(0, 8)), cell(batch.status), barCell, cell(label)]);
    }),
  );
}

function renderChats(sources) {
  $("chat-sources").replaceChildren(
    ...sources.map((source) => {
      const chat = source.channel || source.live_chat_id || "";
      const last = source.last_message_at ? clockTime(source.last_message_at) : "";
      const cells = [cell(source.session_id.slice(0, 8)), cell(source.platform), cell(chat, "text"), cell(source.state),
        cell(String(source.messages)), cell(last), cell(source.error || "", "text")];
      const tr = row(cells, source.state === "failed" ? "failed" : source.state === "connected" ? "" : "down");
      tr.dataset.source = source.id;
      return tr;
    }),
  );
}

if (key) showPanel();
else showLogin();
