"""The in-process floor: the same three models called one after another in one process.

This is what a live turn would cost with no queue at all: the LLM streams, each sentence is
synthesized the moment it closes (the LLM waits meanwhile: one process, sequential), with the
persona's prompt, sampling and sentence limit exactly as the pipeline's LLM stage uses them.
"""

import time
import uuid
from dataclasses import dataclass

from pipelines.audio_codec import decode_to_16k_mono, ensure_not_silent
from pipelines.personas import get_persona
from pipelines.prompting import build_messages
from pipelines.reply_stream import ReplyStreamer
from pipelines.settings import Settings
from pipelines.stages.llm import close_stream, stable_seed
from schemas.emotion import TaggedSegment
from workers.llm.local_llama import LocalLlamaChat
from workers.stt.faster_whisper_backend import FasterWhisperSTT
from workers.tts.piper_backend import PiperSynthesizer


@dataclass
class TurnTiming:
    first_audio_s: float
    end_s: float
    audio_s: float
    segments: int

    @property
    def reply_time_per_audio_s(self) -> float:
        return self.end_s / self.audio_s if self.audio_s else float("nan")


class InProcessFloor:
    def __init__(self, settings: Settings, persona: str) -> None:
        self.settings = settings
        self.persona = get_persona(persona)
        self.stt = FasterWhisperSTT(settings)
        self.chat = LocalLlamaChat(settings)
        self.tts = PiperSynthesizer(settings)

    def turn(
        self, *, text: str | None = None, audio: bytes | None = None, seed: int | None = None
    ) -> TurnTiming:
        """One turn; ``seed`` (a pipeline job's) makes the model write the same reply as that job."""
        started = time.perf_counter()
        if audio is not None:
            samples = decode_to_16k_mono(audio)
            ensure_not_silent(samples, self.settings.silence_dbfs)
            text = self.stt.transcribe(
                samples, language=None, word_timestamps=self.settings.stt_live_word_timestamps
            ).text
        messages = build_messages(
            self.persona,
            [],
            text or "",
            count_tokens=self.chat.count_tokens,
            token_budget=self.settings.context_token_budget,
        )
        streamer = ReplyStreamer.for_persona(self.persona)
        first: float | None = None
        audio_s = 0.0
        spoken = 0
        limit = self.settings.llm_max_segments

        def speak(segments: list[TaggedSegment]) -> None:
            nonlocal first, audio_s, spoken
            for segment in segments:
                speech = self.tts.synthesize(segment.text, persona=self.persona, emotion=segment.emotion)
                first = first if first is not None else time.perf_counter() - started
                audio_s += speech.duration_s
                spoken += 1

        stream = self.chat.stream_chat(
            messages,
            max_tokens=self.settings.llm_max_tokens,
            temperature=self.settings.llm_temperature,
            seed=seed if seed is not None else stable_seed(uuid.uuid4().hex),
        )
        cut = False
        try:
            for delta in stream:
                ready = streamer.push(delta)
                if limit and len(ready) >= limit - spoken:
                    ready, cut = ready[: limit - spoken], True
                speak(ready)
                if cut:
                    break
        finally:
            close_stream(stream)
        if not cut:
            speak(streamer.finish())
        end = time.perf_counter() - started
        return TurnTiming(first_audio_s=first or end, end_s=end, audio_s=audio_s, segments=spoken)
