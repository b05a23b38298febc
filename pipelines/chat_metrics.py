"""Platform chat metrics: lines the connectors queued or could not read, connection states, and
what became of each line (answered, or skipped and why). Recorded in prometheus-client's default
registry by the chat worker (its /metrics, workers/metrics_server.py), like pipelines/metrics.py."""

from prometheus_client import Counter

CHAT_LINES_RECEIVED = Counter(
    "vtuber_chat_lines_received_total", "Platform chat lines a connector queued for selection", ["platform"]
)
CHAT_LINES_MALFORMED = Counter(
    "vtuber_chat_lines_malformed_total",
    "Platform chat lines that could not be read (logged, skipped)",
    ["platform"],
)
CHAT_CONNECTOR_STATES = Counter(
    "vtuber_chat_connector_states_total",
    "Connection state changes of platform chat connectors (a rising backoff count: a platform refusing)",
    ["platform", "state"],
)
CHAT_LINES_DECIDED = Counter(
    "vtuber_chat_lines_decided_total",
    "Chat lines by their fate: answered, or skipped with a reason",
    ["fate", "reason"],
)
