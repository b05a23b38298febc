"""How long each kind of task may run, sent with every message (Celery's per-message limits).

A live utterance and a three-hour batch file cannot share one limit: the first must fail fast
while a viewer waits, the second needs time in proportion to its audio. The soft limit raises
SoftTimeLimitExceeded in the task (recorded as ``stage_timeout``); the hard limit, a grace period
later, kills a process stuck in native code.
"""

from dataclasses import dataclass

from pipelines.queues import TaskName
from pipelines.settings import Settings


@dataclass(frozen=True)
class TimeLimit:
    soft_s: float
    hard_s: float


class TimeLimits:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._fixed: dict[str, int] = {
            TaskName.transcribe_utterance: settings.stt_live_time_limit_s,
            TaskName.listen: settings.stt_live_time_limit_s,  # hands the listen to a thread
            # The longest a one-shot may run (pipelines/oneshot_transcription.py sends a limit that
            # grows with its audio): what the live STT pods' grace period must outlast.
            TaskName.transcribe_oneshot: int(
                settings.stt_live_time_limit_s
                + settings.stt_batch_time_limit_per_audio_s * settings.openai_sync_max_seconds
            ),
            TaskName.reply: settings.llm_time_limit_s,
            TaskName.synthesize_segment: settings.tts_time_limit_s,
            # The longest speech input (pipelines/speech_stream.py: the segment limit per 500 characters).
            TaskName.stream_speech: settings.tts_time_limit_s * (1 + settings.openai_speech_max_chars // 500),
            TaskName.animate_segment: settings.animation_time_limit_s,
        }

    def _limit(self, soft_s: float) -> TimeLimit:
        return TimeLimit(soft_s=soft_s, hard_s=soft_s + self._settings.task_kill_grace_s)

    def for_task(self, name: str) -> TimeLimit:
        soft = self._fixed.get(name)
        if soft is None:
            return TimeLimit(self._settings.task_soft_time_limit_s, self._settings.task_time_limit_s)
        return self._limit(soft)

    def for_batch_file(self, audio_s: float) -> TimeLimit:
        settings = self._settings
        return self._limit(
            settings.stt_batch_time_limit_s + settings.stt_batch_time_limit_per_audio_s * audio_s
        )

    def longest_live_hard_s(self) -> float:
        """The longest hard limit of a live task: the broker's visibility timeout must exceed it."""
        return max(self._limit(soft).hard_s for soft in self._fixed.values())
