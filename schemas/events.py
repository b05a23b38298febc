"""Progress events of a live turn, as clients receive them over SSE (and workers append them).

One event log per job and one per session. Each event is one SSE message: ``id`` is the log
entry's id (resume with ``Last-Event-ID``), ``event`` is ``type`` below, ``data`` is the JSON of
:class:`JobEvent`. A job's stream ends after ``job.completed`` or ``job.failed``.

Order within one turn: ``job.queued`` → (``stage.started``/``stage.finished`` stt →
``transcript.ready``) → ``stage.started`` llm → per segment ``segment.queued`` →
``segment.audio_ready`` → ``segment.animation_ready`` (segments interleave) → ``stage.finished``
llm → ``job.completed``. Audio is announced as soon as it is stored; its track follows.

A voice engine that streams (GPT-SoVITS with ``VTUBER_GPT_SOVITS_STREAMING_MODE``) may announce a
reply's first segment earlier: ``segment.audio_started`` comes before its ``segment.audio_ready``,
with the first part of that segment's audio (its own ``audio_url`` and ``duration_s``), the start of
what ``segment.audio_ready`` brings. A client may play it at once and carry on in the whole audio
from where it is; the animation track is built from the whole audio, so its times hold for both.
A client that ignores it loses nothing but the head start. A segment whose synthesis is tried again
may announce its start again (the same URL, the newer audio).

Other kinds of job on the same session log: a verbatim line (kind ``speak``) has the same events
without the llm stage; a manual avatar command (kind ``avatar``) is ``avatar.command`` (its
``command`` field is the :data:`~schemas.avatar.AvatarCommand`, to apply at once) then
``job.completed``. Clients ignore event types they do not know.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.avatar import AvatarCommand
from schemas.jobs import Interruption, JobError, Reply, SegmentOut, Stage
from schemas.transcription import Transcript


class EventType(StrEnum):
    job_queued = "job.queued"
    stage_started = "stage.started"
    stage_finished = "stage.finished"
    transcript_ready = "transcript.ready"
    segment_queued = "segment.queued"
    segment_audio_started = "segment.audio_started"
    segment_audio_ready = "segment.audio_ready"
    segment_animation_ready = "segment.animation_ready"
    job_completed = "job.completed"
    job_failed = "job.failed"
    job_interrupted = "job.interrupted"
    avatar_command = "avatar.command"


FINAL_EVENTS = frozenset({EventType.job_completed, EventType.job_failed, EventType.job_interrupted})


class JobEvent(BaseModel):
    type: EventType
    job_id: str
    session_id: str | None = Field(description="None for a session-less animation job (POST /v1/animation).")
    at: datetime = Field(description="When the worker appended the event (UTC).")
    stage: Stage | None = None
    seconds: float | None = Field(default=None, description="stage.finished: the stage's own work.")
    attempt: int | None = Field(default=None, description="The LLM attempt a segment belongs to.")
    transcript: Transcript | None = None
    segment: SegmentOut | None = Field(
        default=None,
        description="segment.queued: text and emotion; .audio_started: plus the first part of the audio; "
        ".audio_ready: plus audio; .animation_ready: plus the animation track.",
    )
    reply: Reply | None = None
    segments_total: int | None = None
    error: JobError | None = None
    interruption: Interruption | None = None
    command: AvatarCommand | None = Field(
        default=None, description="avatar.command: the manual command (schemas/avatar.py) to apply now."
    )
