"""The worker side of a realtime listen: PCM frames in, partial and final transcripts out.

The listener reads the listen's input stream in order, feeds voice activity detection window by
window and keeps the audio since a little before the current speech began. While speech goes on it
transcribes that audio again about every ``partial_interval_s`` (of audio and of wall time, so a
client streaming faster than real time gets fewer partials, not a backlog) and sends the text as a
partial, and once more as soon as the speech pauses. At the end of speech (or after
``max_utterance_s`` of it) the final is that pause's text when it heard all the speech, else a
fresh transcription; it is submitted as a turn of the session and sent.

What it no longer needs is trimmed from the input stream, and a checkpoint says where the audio it
still needs begins: a worker that takes the listen over replays from there and hears the utterance
in progress from its start.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipelines.backends import SpeechToText
from pipelines.errors import StageError
from pipelines.listen_endpointing import SAMPLE_RATE, Edge, Endpointer, VoiceActivity
from pipelines.listen_streams import END_BY_REFUSAL, Checkpoint, ListenChannel
from pipelines.logging_setup import get_logger
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from schemas.listen import (
    FinalTranscript,
    ListenEnded,
    ListenError,
    PartialTranscript,
    SpeechStarted,
    UtteranceDropped,
)

log = get_logger(__name__)

READ_COUNT = 50
READ_BLOCK_MS = 250
CLIENT_CHECK_S = 2.0
VOICED_TAIL_S = 0.2  # speech fades out below the VAD threshold for a moment after its last voiced window
END_BY_CLIENT_LOST = "client_lost"


@dataclass(frozen=True)
class ListenTuning:
    partial_interval_s: float = 0.5
    end_silence_ms: int = 600
    min_speech_ms: int = 250
    max_utterance_s: float = 20.0
    preroll_s: float = 0.3  # audio kept before the first speech window (Silero starts a bit late)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ListenTuning":
        return cls(
            partial_interval_s=settings.listen_partial_interval_s,
            end_silence_ms=settings.listen_end_silence_ms,
            min_speech_ms=settings.listen_min_speech_ms,
            max_utterance_s=settings.listen_max_utterance_s,
        )


def pcm_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


# Submits an utterance's final text as a turn: (utterance index, text) -> job id.
SubmitFinal = Callable[[int, str], str]


class Listener:
    def __init__(
        self,
        channel: ListenChannel,
        stt: SpeechToText,
        vad: VoiceActivity,
        submit: SubmitFinal,
        *,
        language: str | None,
        tuning: ListenTuning,
        lost: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel, self.stt, self.vad, self.submit = channel, stt, vad, submit
        self.language, self.tuning, self.lost, self.clock = language, tuning, lost, clock
        self.endpointer = Endpointer(
            window=vad.window, end_silence_ms=tuning.end_silence_ms, min_speech_ms=tuning.min_speech_ms
        )
        start = channel.checkpoint()
        self.read_after = start.after_id
        self.base = start  # the input entry before the first audio kept, and where that audio begins
        self.utterance = start.utterance
        self.kept: deque[tuple[str, np.ndarray]] = deque()  # (entry id, its samples) after base
        self.end_sample = start.sample  # the end of the audio received so far
        self.pending = np.zeros(0, dtype=np.float32)  # samples not yet judged by the VAD
        self.vad_sample = start.sample  # where the pending samples begin
        self.region_start = 0
        self.last_partial = (0, 0.0)  # (end sample, clock) of the last partial
        self.partial_text = ""
        self.partial_heard = 0  # where the audio of the last partial's text ends
        self.voiced_end = 0  # the end of the last window judged speech
        self.partial_cost_s = 0.0  # how long the last partial took
        self.saved = start

    # --- the loop -------------------------------------------------------------------------------
    def run(self) -> str | None:
        """Serve until the listen ends (its reason) or the lease is lost (None: another worker has it)."""
        next_client_check = self.clock() + CLIENT_CHECK_S
        while not self.lost():
            entries = self.channel.read(self.read_after, count=READ_COUNT, block_ms=READ_BLOCK_MS)
            for entry_id, fields in entries:
                self.read_after = entry_id
                if b"end" in fields:
                    return self.end(fields[b"end"].decode())
                self.hear(entry_id, pcm_to_float(fields.get(b"pcm", b"")))
            if self.endpointer.in_speech and len(entries) < READ_COUNT:  # caught up with the client
                self.maybe_partial()
            if not entries and self.clock() >= next_client_check:
                next_client_check = self.clock() + CLIENT_CHECK_S
                if not self.channel.client_present():
                    return self.end(END_BY_CLIENT_LOST)
        return None

    def hear(self, entry_id: str, samples: np.ndarray) -> None:
        self.kept.append((entry_id, samples))
        self.end_sample += samples.size
        self.pending = np.concatenate([self.pending, samples])
        window = self.vad.window
        while self.pending.size >= window:
            at = self.vad_sample
            probability = self.vad.probability(self.pending[:window])
            edge = self.endpointer.push(probability)
            self.pending = self.pending[window:]
            self.vad_sample += window
            if probability >= self.endpointer.threshold:
                self.voiced_end = self.vad_sample
            if edge is Edge.started:
                self.begin_region(max(self.base.sample, at - int(self.tuning.preroll_s * SAMPLE_RATE)))
            elif edge is Edge.ended:
                self.finish_region(self.vad_sample)
            elif self.endpointer.in_speech and (
                self.vad_sample - self.region_start >= self.tuning.max_utterance_s * SAMPLE_RATE
            ):
                self.finish_region(self.vad_sample, cut=True)  # too long for one turn: cut, go on
                self.endpointer.restart()
                self.begin_region(self.vad_sample)
        if not self.endpointer.in_speech:
            self.trim()

    def end(self, reason: str) -> str:
        if self.endpointer.in_speech:
            if reason == END_BY_REFUSAL:
                self.drop("the client was disconnected for a bad frame")
            else:  # what was heard until the client stopped is still said
                self.finish_region(self.end_sample)
        self.channel.finish(ListenEnded(reason=reason))
        log.info("listen ended", listen_id=self.channel.keys.listen_id, reason=reason)
        return reason

    # --- regions --------------------------------------------------------------------------------
    def begin_region(self, start: int) -> None:
        self.region_start = start
        self.last_partial = (start, self.clock())
        self.partial_text = ""
        self.partial_heard = start
        self.channel.emit(SpeechStarted(utterance=self.utterance, at_s=round(start / SAMPLE_RATE, 3)))

    def region_audio(self, end: int) -> np.ndarray:
        audio = np.concatenate([samples for _, samples in self.kept]) if self.kept else np.zeros(0)
        return audio[self.region_start - self.base.sample : end - self.base.sample]

    def maybe_partial(self) -> None:
        """A partial when ``partial_interval_s`` of new audio and of time have passed, and at least
        twice as long as the last partial took: a busy worker spends at most a third of its time on
        partials, so finals (and other listens) are not queued behind them.

        And one as soon as the speech pauses and no partial has heard all of it (still no sooner than
        twice the last one's cost): if the pause is the end, the final is that text (final_text),
        ready while the end-of-speech silence runs out.
        """
        sample, at = self.last_partial
        interval = self.tuning.partial_interval_s
        since = self.clock() - at
        heard_all = self.voiced_end + int(VOICED_TAIL_S * SAMPLE_RATE)
        if self.vad_sample >= heard_all > self.partial_heard:  # a pause
            due = since >= 2 * self.partial_cost_s
        else:
            due = self.end_sample - sample >= interval * SAMPLE_RATE and since >= max(
                interval, 2 * self.partial_cost_s
            )
        if not due:
            return
        audio = self.region_audio(self.end_sample)
        started = self.clock()
        try:
            text = self.transcribe(audio, "partial")
        except StageError as exc:
            log.warning("listen partial failed", error=str(exc))
            return
        finally:
            self.partial_cost_s = self.clock() - started
            self.last_partial = (self.end_sample, self.clock())
        if not text:
            return
        self.partial_heard = self.region_start + audio.size
        if text != self.partial_text:
            self.partial_text = text
            self.channel.emit(
                PartialTranscript(
                    utterance=self.utterance, text=text, audio_s=round(audio.size / SAMPLE_RATE, 3)
                )
            )

    def finish_region(self, end: int, *, cut: bool = False) -> None:
        """Transcribe the region up to ``end`` and submit it; ``cut``: the speech goes on after it."""
        utterance = self.utterance
        keep_from = end if cut else None
        if not self.endpointer.enough_speech:
            self.drop("too short to be speech")
            return
        audio = self.region_audio(end)
        try:
            text = self.final_text(audio, cut=cut)
        except StageError as exc:
            self.close_region(ListenError(utterance=utterance, code=exc.code, message=exc.message), keep_from)
            return
        if not any(ch.isalnum() for ch in text):
            self.drop("no speech was recognised")
            return
        try:
            job_id = self.submit(utterance, text)
        except Exception as exc:  # MongoDB or the broker away: say so and go on listening
            log.warning("listen final not submitted", error=repr(exc))
            self.close_region(
                ListenError(
                    utterance=utterance,
                    code=ErrorCode.dependency_unavailable,
                    message="the transcript could not be submitted as a turn",
                ),
                keep_from,
            )
            return
        self.close_region(
            FinalTranscript(
                utterance=utterance,
                text=text,
                job_id=job_id,
                start_s=round(self.region_start / SAMPLE_RATE, 3),
                end_s=round(end / SAMPLE_RATE, 3),
            ),
            keep_from,
        )

    def final_text(self, audio: np.ndarray, *, cut: bool) -> str:
        """The last partial's text when it heard all the speech (what follows is the silence that
        ended it: transcribing it again would say the same, one Whisper call later), else a fresh
        transcription."""
        tail = int(VOICED_TAIL_S * SAMPLE_RATE)
        if not cut and self.partial_text and self.partial_heard >= self.voiced_end + tail:
            return self.partial_text
        return self.transcribe(audio, "final")

    def transcribe(self, audio: np.ndarray, kind: str) -> str:
        started = time.perf_counter()
        text = self.stt.transcribe(audio, language=self.language, word_timestamps=False).text.strip()
        log.debug(
            "listen transcribed",
            kind=kind,
            audio_s=round(audio.size / SAMPLE_RATE, 2),
            seconds=round(time.perf_counter() - started, 3),
            behind_s=round((self.end_sample - self.vad_sample) / SAMPLE_RATE, 2),
        )
        return text

    def drop(self, reason: str) -> None:
        self.close_region(UtteranceDropped(utterance=self.utterance, reason=reason))

    def close_region(
        self, frame: FinalTranscript | UtteranceDropped | ListenError, keep_from: int | None = None
    ) -> None:
        """The utterance is done with: its frame goes out with the checkpoint past it."""
        self.utterance += 1
        self.trim(force_save=True, frame=frame, keep_from=keep_from)

    # --- what is kept ---------------------------------------------------------------------------
    def trim(
        self, *, force_save: bool = False, frame: object | None = None, keep_from: int | None = None
    ) -> None:
        """Forget entries that end before the pre-roll of where speech could next begin (or before
        ``keep_from``, where a cut region's successor begins)."""
        if keep_from is None:
            keep_from = (
                self.region_start
                if self.endpointer.in_speech
                else self.vad_sample - int(self.tuning.preroll_s * SAMPLE_RATE)
            )
        after_id, sample = self.base.after_id, self.base.sample
        while self.kept and sample + self.kept[0][1].size <= keep_from:
            entry_id, samples = self.kept.popleft()
            after_id, sample = entry_id, sample + samples.size
        self.base = Checkpoint(after_id, sample, self.utterance)
        moved = self.base.sample - self.saved.sample >= SAMPLE_RATE  # save idle progress each second
        if force_save or moved:
            frames = [frame] if frame is not None else []
            self.channel.save(self.base, *frames)  # type: ignore[arg-type]
            self.saved = self.base
