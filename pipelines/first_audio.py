"""A reply's first audio from a streaming voice engine, stored and announced before the whole.

Why this shape: the viewer waits for the first segment's first sound, and a streaming engine
(GPT-SoVITS ``streaming_mode``) has it long before the segment is done. So the tts stage stores the
first ``FIRST_AUDIO_MIN_S`` of the first segment as its own playable wav and announces it with
``segment.audio_started``; it then stores the whole segment and announces ``segment.audio_ready``
as ever, and the animation track is built from the whole. Everything a client already does keeps
working (it ignores the new event), the track's times fit both files (the start is the whole's
first samples), and one segment stays one wav in MongoDB and in the history.

Splitting the first sentence into a short first segment instead would help every engine, but it
costs a synthesis call (and its setup: reference features, BERT) more per reply and shapes the
reply's text by a voice engine's needs; streaming gets the same head start from the one request.

Only the first segment: later ones are voiced while the earlier ones play. The start plays
without a pause into the whole when the rest arrives before the start has been played, which
holds for a server faster than real time over the segment (a GPU at RTF 0.014-0.028); a server
slower than that still gives the first sound sooner, then a pause (bench/bench_gpt_sovits.py
measures both).
"""

import logging
from typing import Any

import numpy as np
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from pipelines.audio_codec import encode_audio
from pipelines.job_views import segment_out
from pipelines.metrics import TIME_TO_FIRST_AUDIO_SECONDS, seconds_since
from pipelines.segments import speech_file_name
from pipelines.stages.context import StageContext
from pipelines.storage import name_object_id
from pipelines.turn_state import has_ended
from schemas.events import EventType

log = logging.getLogger(__name__)

FIRST_AUDIO_MIN_S = 1.0  # long enough to cover the wait for the rest on a fast server


def record_first_audio(job: dict[str, Any], backend: str) -> None:
    """Time to first audio: from the turn's creation until its first audio is stored (the
    first segment's whole, or its start when streamed)."""
    elapsed = seconds_since(job.get("created_at"))
    if elapsed is not None:
        TIME_TO_FIRST_AUDIO_SECONDS.labels(str(job.get("kind")), backend).observe(elapsed)


def first_audio_file_name(job_id: str, attempt: int, index: int) -> str:
    """Beside the segment's own wav (``0.wav`` → ``0.start.wav``); its browser copy ``0.start.ogg``."""
    return speech_file_name(job_id, attempt, index, "start.wav")


class FirstAudio:
    """``on_chunk`` for a streamed segment: collects chunks until ``min_s`` of audio, then stores
    them and announces ``segment.audio_started``, once. Later chunks are left to the caller."""

    def __init__(
        self,
        ctx: StageContext,
        job: dict[str, Any],
        segment: dict[str, Any],
        *,
        backend: str,
        min_s: float = FIRST_AUDIO_MIN_S,
    ) -> None:
        self._ctx = ctx
        self._job = job
        self._segment = segment
        self._backend = backend
        self._min_s = min_s
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self.done = False
        self.stored = False

    def __call__(self, samples: np.ndarray, sample_rate: int) -> None:
        if self.done:
            return
        self._chunks.append(samples)
        self._samples += len(samples)
        if self._samples >= self._min_s * sample_rate:
            self.done = True
            try:
                self._announce(np.concatenate(self._chunks), sample_rate)
            except (PyMongoError, RedisError):
                # The start is a head start only: the stream (and its server slot) goes on, and
                # storing the whole segment meets the same trouble, where it counts.
                log.exception("the first audio of %s was not announced", self._job["_id"])
            self._chunks = []

    def _announce(self, samples: np.ndarray, sample_rate: int) -> None:
        job_id, attempt, index = self._job["_id"], self._segment["attempt"], self._segment["index"]
        if has_ended(self._ctx.events.client, job_id):
            return  # interrupted or over: nobody is waiting for it
        duration_s = len(samples) / sample_rate
        audio_id = self._ctx.storage.replace_audio(
            encode_audio(samples, sample_rate, "wav"),
            filename=first_audio_file_name(job_id, attempt, index),
            content_type="audio/wav",
            metadata={
                "job_id": job_id,
                "owner": self._job.get("owner"),
                "segment": index,
                "sample_rate": sample_rate,
                "duration_s": duration_s,
                "backend": self._backend,
                "format": "wav",
                "part": "start",
            },
        )
        self.stored = True
        record_first_audio(self._job, self._backend)
        started = {
            **self._segment,
            "audio_id": audio_id,
            "audio_format": "wav",
            "sample_rate": sample_rate,
            "duration_s": round(duration_s, 4),
        }
        self._ctx.events.emit(
            EventType.segment_audio_started,
            self._job,
            attempt=attempt,
            segment=segment_out(self._ctx.settings, started),
        )

    def discard(self) -> None:
        """The segment was dropped (a newer attempt): so is its start."""
        if self.stored:
            job_id, attempt, index = self._job["_id"], self._segment["attempt"], self._segment["index"]
            self._ctx.storage.delete_audio(str(name_object_id(first_audio_file_name(job_id, attempt, index))))
