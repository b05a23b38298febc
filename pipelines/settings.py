"""One typed settings object, read from the environment (prefix ``VTUBER_``) and ``.env``.

Every variable is documented with its default in ``.env.example``; a test keeps the two in step.
"""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.queues import WorkerKind

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VTUBER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- infrastructure -------------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "vtuber"
    env: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start with open access, an unsigned webhook secret or a "
        "development key.",
    )

    # --- access ---------------------------------------------------------------------------------------
    open_access: bool = Field(
        default=False, description="Serve requests without a key as an admin: local experiments only."
    )
    api_key_cache_s: float = Field(
        default=10.0, description="How long the API trusts a verified key before asking MongoDB again."
    )
    rate_limit: str = Field(
        default="50/second", description="Requests per key (the limits library's notation)."
    )
    submit_rate_limit: str = Field(default="60/minute", description="Turns and batches submitted per key.")
    max_jobs_in_flight: int = Field(default=20, ge=1, description="Unfinished turns per key.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (JSON list)."
    )
    public_base_url: str = Field(
        default="", description="Prefix for URLs the API returns; empty means relative URLs."
    )
    flower_url: str = Field(
        default="http://localhost:5555", description="Flower, linked from the control panel (/control)."
    )
    grafana_url: str = Field(
        default="http://localhost:3000", description="Grafana, linked from the control panel (/control)."
    )

    # --- Celery reliability -----------------------------------------------------------------------
    # Soft time limit (the task stops with ``stage_timeout``) per kind of task; the hard limit,
    # which kills the process, follows ``task_kill_grace_s`` later.
    task_soft_time_limit_s: int = Field(default=300, description="Tasks without a limit of their own.")
    task_time_limit_s: int = 360
    stt_live_time_limit_s: int = 60
    stt_batch_time_limit_s: int = Field(default=300, description="Batch file: this plus the factor below.")
    stt_batch_time_limit_per_audio_s: float = Field(
        default=1.0, description="Seconds of batch time limit per second of the file's audio."
    )
    llm_time_limit_s: int = 120
    tts_time_limit_s: int = 60
    animation_time_limit_s: int = 30
    task_kill_grace_s: int = 30
    # Must exceed every live task's hard limit: an unacked message is redelivered after this long.
    # Batch files may run longer; a lease on the file keeps a redelivery from running it twice.
    broker_visibility_timeout_s: int = 900
    result_expires_s: int = 3600
    stage_max_retries: int = 5
    max_deliveries: int = Field(
        default=3,
        ge=1,
        description="Deliveries of one task message before its job fails as poison (worker_crashed) "
        "and the message goes to the dead_letters collection.",
    )
    recovery_interval_s: float = 60.0
    recovery_idle_s: float = Field(
        default=120.0, description="A job idle this long with no message queued or running is lost."
    )
    recovery_max_redispatches: int = Field(
        default=2, description="Lost-work re-sends per job before it fails with stage_timeout."
    )
    job_deadline_s: float = Field(
        default=3600.0, description="An unfinished live turn older than this fails with stage_timeout."
    )

    # --- retention (pipelines/retention.py; 0 keeps forever) ------------------------------------------
    retention_audio_days: float = Field(
        default=0,
        ge=0,
        description="Stored audio (viewers' recordings, voice files) older than this is deleted.",
    )
    retention_transcripts_days: float = Field(
        default=0,
        ge=0,
        description="Finished turns (transcripts, replies, feedback, their audio) and finished batch "
        "transcriptions older than this are deleted.",
    )
    retention_memories_days: float = Field(
        default=0,
        ge=0,
        description="Long-term memories older than this are deleted (by the memory store's eraser).",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the retention sweep runs."
    )

    # --- long-term memory (pipelines/memory_*.py) ---------------------------------------------------
    memory_enabled: bool = Field(
        default=True,
        description="Turns with a viewer_id are distilled into memories (memory queue) and recalled "
        "into the LLM prompt.",
    )
    memory_store_uri: str = Field(
        default=str(PROJECT_ROOT / ".run" / "memory"),
        description="LanceDB location: a directory every worker can reach, or an object store URI "
        "(s3://bucket/path) in production.",
    )
    memory_embedding_model: str = Field(
        default="bundled:all-minilm-l6-v2",
        description="A sentence-transformers model directory, or the bundled all-MiniLM-L6-v2.",
    )
    memory_embedding_dimensions: int = Field(default=384, ge=1)
    memory_embedding_threads: int = Field(default=1, ge=1, description="Torch threads for embeddings.")
    memory_read_consistency_s: float = Field(
        default=1.0, ge=0, description="How stale a reader's view of new memories may be (0: none)."
    )
    memory_recall_limit: int = Field(default=8, ge=1, description="Memories fetched per turn.")
    memory_token_budget: int = Field(
        default=160, ge=0, description="Prompt tokens the recalled memories may take (of the context budget)."
    )
    memory_recall_by_similarity: bool = Field(
        default=True,
        description="For a viewer with more memories than the recall limit, rank them by similarity "
        "to their line (the LLM worker runs the embedding model through onnxruntime, about 6 ms a "
        "line, docs/memory_bench.md); false: facts, then the newest summaries.",
    )
    memory_embed_timeout_ms: float = Field(
        default=15.0,
        ge=0,
        description="How long recall waits for the line's embedding (a viewer with more memories "
        "than the limit); later, the memories are taken in the store's order (first audio must not move).",
    )
    memory_summary_lines: int = Field(default=4, ge=1, description="Viewer lines kept in a session summary.")
    memory_optimize_interval_s: float = Field(
        default=600.0, gt=0, description="How often the store is compacted and its indexes updated."
    )
    memory_optimize_after_rows: int = Field(
        default=48,
        ge=0,
        description="The memory worker also optimizes the store once more rows than this are outside "
        "its index: each write since the last optimize adds to every recall's time "
        "(docs/memory_bench.md).",
    )
    memory_keep_versions_s: float = Field(
        default=3600.0,
        ge=0,
        description="Old store versions (which still hold erased memories) are dropped after this long.",
    )

    # --- live platform chat (pipelines/chat_*.py, workers/chat_host.py) ------------------------------
    chat_twitch_host: str = "irc.chat.twitch.tv"
    chat_twitch_port: int = Field(default=6697, description="6697 with TLS, 6667 without.")
    chat_twitch_tls: bool = True
    chat_twitch_nick: str = Field(
        default="", description="The login a Twitch token belongs to (anonymous read-only without a token)."
    )
    chat_youtube_api_url: str = "https://www.googleapis.com/youtube/v3"
    chat_youtube_api_key: str = Field(
        default="", description="[secret] YouTube Data API key for sources that name no credentials_ref."
    )
    chat_youtube_quota_wait_s: float = Field(
        default=900.0, ge=0, description="Wait after quotaExceeded before polling again."
    )
    chat_secrets_dir: str = Field(
        default="",
        description="A directory of secret files named by a source's credentials_ref (mounted secrets); "
        "VTUBER_CHAT_SECRET_<NAME> environment variables are read too.",
    )
    chat_reconnect_max_s: float = Field(default=60.0, gt=0, description="Longest wait between reconnects.")
    chat_lease_s: float = Field(
        default=15.0, gt=0, description="A chat worker's claim on a source; another takes it over after this."
    )
    chat_sources_per_worker: int = Field(default=50, ge=1, description="Sources one chat worker connects.")
    chat_select_interval_s: float = Field(
        default=1.0, gt=0, description="How often a session's new chat lines are judged."
    )
    chat_min_reply_interval_s: float = Field(
        default=8.0, ge=0, description="The avatar answers chat at most once per this many seconds."
    )
    chat_max_turns_in_flight: int = Field(
        default=1, ge=1, description="No chat line is answered while this many chat turns are unfinished."
    )
    chat_viewer_cooldown_s: float = Field(
        default=60.0, ge=0, description="A viewer just answered waits this long before being answered again."
    )
    chat_duplicate_window_s: float = Field(
        default=120.0, ge=0, description="The same text again within this window is skipped as a duplicate."
    )
    chat_candidate_max_age_s: float = Field(
        default=30.0, gt=0, description="An unpaid line not answered within this long is skipped as stale."
    )
    chat_paid_max_age_s: float = Field(
        default=600.0, gt=0, description="A paid line (bits, Super Chat, sub) waits this long for its turn."
    )
    chat_blocked_viewers: list[str] = Field(
        default_factory=list, description="Viewer ids or names never answered (JSON list)."
    )
    chat_blocked_words: list[str] = Field(
        default_factory=list, description="Lines holding any of these words are never answered (JSON list)."
    )
    chat_moderation_url: str = Field(
        default="",
        description="An OpenAI-compatible /moderations endpoint's base URL; flagged lines are skipped. "
        "Empty: no moderation model (the block lists still apply).",
    )
    chat_ranker: Literal["heuristic", "llm"] = Field(
        default="heuristic",
        description="How the most interesting line is chosen when chat is calm: a cheap heuristic, or "
        "an OpenAI-compatible model (VTUBER_OPENAI_BASE_URL, VTUBER_OPENAI_MODEL).",
    )
    chat_ranker_calm_lines: int = Field(
        default=12, ge=2, description="Chat is calm (the LLM ranker may run) at or below this many lines."
    )
    chat_stream_max_len: int = Field(default=10000, ge=100, description="Lines kept per session stream.")

    # --- logs -------------------------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lines below this level are dropped; user text appears only at debug."
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one JSON object per line; console: for reading in a terminal."
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        description="Worker processes serve Prometheus metrics on this port (0: off); the API serves "
        "them at /metrics.",
    )

    # --- sessions and context -------------------------------------------------------------------
    context_max_turns: int = 12
    context_ttl_s: int = 3600
    context_token_budget: int = 1200
    personas_dir: Path = PROJECT_ROOT / "personas"
    # --- progress events (Redis Streams, SSE, long-poll) ---------------------------------------------
    events_ttl_s: int = Field(default=86400, description="How long a job's or session's event log is kept.")
    sse_ping_s: float = 15.0
    sse_max_duration_s: float = Field(default=900.0, description="An SSE connection is closed after this.")
    long_poll_max_s: float = 30.0
    default_persona: str = "hana"

    # --- audio intake -----------------------------------------------------------------------------
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, description="Each uploaded audio file.")
    max_body_bytes: int = Field(
        default=1024 * 1024, description="Any request body but a multipart upload (JSON included)."
    )
    max_multipart_bytes: int = Field(
        default=512 * 1024 * 1024, description="A whole multipart request (every file of a batch)."
    )
    max_audio_seconds: float = 60.0
    max_batch_audio_seconds: float = 3 * 3600.0
    max_batch_files: int = 100
    silence_dbfs: float = -55.0

    # --- speech to text ---------------------------------------------------------------------------
    stt_backend: Literal["faster_whisper", "openai_whisper"] = "faster_whisper"
    stt_model: str = Field(
        default="bundled:tiny.en",
        description="bundled:tiny.en | bundled:base | a local model directory/file | a model name.",
    )
    stt_allowed_models: list[str] = Field(
        default_factory=lambda: ["bundled:tiny.en", "bundled:base"],
        description="Models a batch request may choose (JSON list).",
    )
    stt_multilingual_model: str = Field(
        default="bundled:base",
        description="Hears live utterances in a language the stt_model cannot (an English-only .en "
        "model and a Korean or Japanese persona); empty: such sessions take no audio.",
    )
    stt_device: Literal["auto", "cpu", "cuda"] = "auto"
    stt_compute_type: str = "auto"
    stt_beam_size: int = 1
    stt_live_word_timestamps: bool = Field(
        default=False,
        description="Word timings for live utterances: an extra alignment pass while the viewer "
        "waits, and the reply does not need them (batch requests choose their own).",
    )
    stt_route: Literal["auto", "gpu", "cpu"] = Field(
        default="auto", description="Initial CPU/GPU routing; changed at run time via /v1/control/stt."
    )

    # --- realtime listen (WS /v1/sessions/{id}/listen) ---------------------------------------------
    listen_partial_interval_s: float = Field(
        default=0.5, gt=0, description="A partial transcript about this often while speech goes on."
    )
    listen_end_silence_ms: int = Field(default=600, ge=100, description="Silence that ends an utterance.")
    listen_min_speech_ms: int = Field(default=250, ge=0, description="Shorter speech is no utterance.")
    listen_max_utterance_s: float = Field(
        default=20.0, gt=1, le=30, description="Longer speech is cut into turns of at most this."
    )
    listen_max_frame_bytes: int = Field(default=64_000, ge=2, description="One binary frame (2 s of PCM).")
    listen_max_duration_s: float = Field(
        default=3600.0, gt=0, description="A listen socket is closed after this."
    )
    listen_lease_s: float = Field(
        default=3.0, gt=0, description="A listen moves to another STT worker this long after its worker died."
    )
    listen_streams_per_worker: int = Field(
        default=4, ge=1, description="Listens one STT worker process serves."
    )

    # --- language model ---------------------------------------------------------------------------
    llm_backend: Literal["local", "openai"] = "local"
    llm_local_model: str = "bundled:qwen2.5-0.5b"
    llm_context_window: int = 4096
    llm_threads: int = 0
    llm_max_tokens: int = 160
    llm_temperature: float = 0.7
    llm_streaming: bool = True
    llm_max_segments: int = Field(
        default=4,
        description="Stop the reply after this many sentences (0 = no limit); live chat stays short.",
    )
    llm_repeat_penalty: float = 1.1
    llm_reply_guard: bool = Field(
        default=True,
        description="Ask the model once more when the first sentence repeats the viewer or talks "
        "like an assistant, and answer a takeover attempt the reply gives in to with the persona's "
        "own refusal (pipelines/reply_guard.py, injection_guard.py); decided before anything is voiced.",
    )
    llm_first_audio_wait_s: float = Field(
        default=3.0,
        ge=0,
        description="After the first sentence the LLM waits (at most this long) until its audio is "
        "stored, so the voice the viewer waits for runs alone on shared cores (0 = never wait: the "
        "LLM and the voice run on separate hardware).",
    )
    llm_local_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Niceness of processes running the local LLM: on shared cores the voice of "
        "the sentence already written goes first, the next sentence waits (0 = off).",
    )
    openai_api_key: str = ""
    openai_base_url: str = ""
    openai_model: str = "gpt-4-turbo"
    openai_timeout_s: float = 30.0
    openai_max_retries: int = 3

    # --- text to speech ---------------------------------------------------------------------------
    tts_backend: Literal["piper", "gpt_sovits"] = "piper"
    piper_voice: str = "bundled:joe"
    piper_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Languages the Piper voice speaks (JSON list): personas in others need GPT-SoVITS.",
    )
    tts_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where Piper runs: cuda needs onnxruntime-gpu (the GPU TTS image)."
    )
    gpt_sovits_url: str = "http://127.0.0.1:9880"
    gpt_sovits_version: Literal["v1", "v2", "v2Pro", "v2ProPlus", "v3", "v4"] = Field(
        default="v2",
        description="The server's model version: its languages, and v3/v4 need every prompt_text "
        "(personas are checked when a TTS worker starts).",
    )
    gpt_sovits_timeout_s: float = Field(
        default=60.0, description="Read timeout of a request: this plus the per-character part."
    )
    gpt_sovits_timeout_per_char_s: float = Field(default=0.05, ge=0)
    gpt_sovits_max_retries: int = 2
    gpt_sovits_slots: int = Field(
        default=1,
        ge=0,
        description="Requests in flight per GPT-SoVITS server, over all workers (a Redis semaphore; "
        "the server synthesizes one at a time). 0: unbounded.",
    )
    gpt_sovits_slot_wait_s: float = Field(
        default=30.0, description="How long a segment waits for a free slot before it is retried later."
    )
    gpt_sovits_streaming_mode: int = Field(
        default=0,
        ge=0,
        le=3,
        description="api_v2 streaming_mode (0 off, 1 per sentence, 2 token chunks, 3 fixed chunks); "
        "on: a reply's first second of audio is stored and announced (segment.audio_started) before "
        "its first segment is whole (pipelines/first_audio.py).",
    )

    # --- OpenAI-compatible audio API (/v1/audio/transcriptions, translations, speech) --------------
    openai_stt_models: dict[str, str] = Field(
        default_factory=lambda: {"whisper-1": "", "gpt-4o-transcribe": "", "gpt-4o-mini-transcribe": ""},
        description="OpenAI model names a client may send, each mapped to an STT model spec (JSON "
        "object; empty: stt_model). The stt_allowed_models are accepted by their own names too.",
    )
    openai_tts_models: list[str] = Field(
        default_factory=lambda: ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"],
        description="OpenAI speech model names accepted (JSON list); all speak with the configured voice.",
    )
    openai_voices: dict[str, str] = Field(
        default_factory=lambda: {
            voice: "hana"
            for voice in (
                *("alloy", "ash", "ballad", "coral", "echo", "fable"),
                *("nova", "onyx", "sage", "shimmer", "verse"),
            )
        },
        description="OpenAI voice names mapped to persona ids (JSON object); persona ids are voices too.",
    )
    openai_sync_max_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Transcriptions of files up to this long are answered in the request; longer ones "
        "become a batch (202 with its id).",
    )
    openai_sync_wait_s: float = Field(
        default=120.0, gt=0, description="How long a request waits for its transcription or first audio."
    )
    openai_speech_max_chars: int = Field(default=4096, ge=1, description="Longest speech input.")

    # --- worker processes -------------------------------------------------------------------------
    worker_kind: WorkerKind | Literal["all"] = Field(
        default="all",
        description="The task modules a worker process imports (stt, llm, tts, animation, notify); "
        "all for a worker that serves every queue.",
    )
    worker_heartbeat_file: str = Field(
        default="",
        description="A file the worker's consumer touches every few seconds; its age is the "
        "liveness probe (workers/healthcheck.sh). Empty: none.",
    )

    # --- models on disk ---------------------------------------------------------------------------
    model_cache_dir: Path = Path.home() / ".cache" / "vtuber-backend"

    # --- notifications ----------------------------------------------------------------------------
    webhook_secret: str = ""
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 6
    callback_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks callbacks may reach although not public (JSON list of CIDRs), e.g. "
        '["10.20.0.0/16"]; cloud metadata addresses stay refused.',
    )

    @field_validator("model_cache_dir", "personas_dir", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("callback_allowed_networks", mode="after")
    @classmethod
    def _networks_are_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _prompt_and_reply_fit_the_context_window(self) -> "Settings":
        if self.context_token_budget + self.llm_max_tokens > self.llm_context_window:
            raise ValueError("context_token_budget + llm_max_tokens must not exceed llm_context_window")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built once."""
    return Settings()
