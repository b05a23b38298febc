"""A fake GPT-SoVITS ``api_v2.py`` server: the same HTTP contract, with synthetic audio.

Reproduced from api_v2.py and its ``TTS.py`` / ``TextPreprocessor.py`` (written from a reading of
them, kept independent of our client so it can catch the client's mistakes):

- ``GET /tts`` (query) and ``POST /tts`` (JSON). The POST model types every field as non-optional
  with a ``None`` default, as api_v2's ``TTS_Request`` does under pydantic 2: a field left out is
  fine, an explicit ``null`` gets FastAPI's 422. ``check_params`` runs in the same order with the
  same messages (400 ``{"message": ...}``); a GET without ``text_lang``/``prompt_lang`` crashes on
  ``None.lower()`` into a plain-text 500.
- The pipeline (``TTS.run``) then fails as 400 ``{"message": "tts failed", "Exception": str(e)}``:
  ``check_params`` lower-cases the languages only to check them, so a POST with ``EN`` fails here
  on a bare ``assert`` (an empty Exception); v3/v4 refuse an empty ``prompt_text``; an unknown
  reference path, a clip outside 3-10 s, text that is only whitespace. Messages that upstream
  passes through ``i18n`` follow ``locale`` (``zh_CN`` or ``en_US``).
- Silence that looks like success: text with nothing to pronounce (emoji, punctuation) and a crash
  during inference both answer 200 with one second of 16 kHz zeros.
- Model versions (``version``, or switched with ``/set_sovits_weights``): 32 kHz for v1/v2/v2Pro/
  v2ProPlus, 24 kHz for v3, 48 kHz for v4; v1 knows fewer languages.
- ``streaming_mode`` 1/True (per sentence), 2 (token chunks), 3 (fixed chunks; v3/v4 fall back to
  1): a WAV header with data size 0, then raw 16-bit PCM chunks, then a silent
  ``fragment_interval`` after each sentence. The pipeline runs lazily inside the stream, so every
  pipeline error arrives after the 200 as a cut stream (no chunked-encoding terminator), and text
  with nothing to pronounce is an empty 200.
- One request at a time: a non-streaming synthesis blocks the server's event loop, so every other
  request (``/control`` included) waits behind it; streams run in a thread pool and do not block.
- Timing model: ``setup_s`` before the first audio, then ``rtf`` seconds per second of audio.

``hang`` makes it a server that accepts a request and then sends nothing, for a while or for good.
"""

import asyncio
import io
import re
import subprocess
import threading
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np
import soundfile as sf
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel

from tests.fakes.server_thread import ServerThread, hold

V1_LANGUAGES = ["auto", "en", "zh", "ja", "all_zh", "all_ja"]
V2_LANGUAGES = ["auto", "auto_yue", "en", "zh", "ja", "yue", "ko", "all_zh", "all_ja", "all_yue", "all_ko"]
# version -> (output sample rate, languages, needs a prompt text, can stream token chunks)
VERSIONS: dict[str, tuple[int, list[str], bool, bool]] = {
    "v1": (32000, V1_LANGUAGES, False, True),
    "v2": (32000, V2_LANGUAGES, False, True),
    "v2Pro": (32000, V2_LANGUAGES, False, True),
    "v2ProPlus": (32000, V2_LANGUAGES, False, True),
    "v3": (24000, V2_LANGUAGES, True, False),
    "v4": (48000, V2_LANGUAGES, True, False),
}
CUT_METHODS = ["cut0", "cut1", "cut2", "cut3", "cut4", "cut5"]
SAMPLE_RATE = 32000  # the default (v2) model's output
SILENCE_RATE = 16000  # what TTS.run yields for "nothing to say" and after a crash
SECONDS_PER_CHAR = 0.06
TOKEN_CHUNK_S = 16 / 25  # min_chunk_length semantic tokens at 25 Hz
SENTENCE_END = re.compile(r"(?<=[.!?。！？…])\s*")
MESSAGES = {  # upstream's i18n keys and their en_US translations (tools/i18n/locale/en_US.json)
    "参考音频在3~10秒范围外，请更换！": (
        "Reference audio is outside the 3-10 second range, please choose another one!"
    ),
    "请输入有效文本": "Please enter valid text.",
}
OOM = "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total capacity)"


class TTSRequest(BaseModel):
    """api_v2.py's ``TTS_Request``: same fields and defaults, and the same non-optional types."""

    text: str = None  # type: ignore[assignment]
    text_lang: str = None  # type: ignore[assignment]
    ref_audio_path: str = None  # type: ignore[assignment]
    aux_ref_audio_paths: list[Any] = None  # type: ignore[assignment]
    prompt_lang: str = None  # type: ignore[assignment]
    prompt_text: str = ""
    top_k: int = 15
    top_p: float = 1
    temperature: float = 1
    text_split_method: str = "cut5"
    batch_size: int = 1
    batch_threshold: float = 0.75
    split_bucket: bool = True
    speed_factor: float = 1.0
    fragment_interval: float = 0.3
    seed: int = -1
    media_type: str = "wav"
    streaming_mode: bool | int = False
    parallel_infer: bool = True
    repetition_penalty: float = 1.35
    sample_steps: int = 32
    super_sampling: bool = False
    overlap_length: int = 2
    min_chunk_length: int = 16


class PipelineError(Exception):
    """An exception inside ``TTS.run``: api_v2 answers it as 400 "tts failed"."""


@dataclass
class FakeGptSovits:
    """``ref_clips`` maps server-side reference paths to their duration in seconds;
    ``sovits_weights`` maps weight files ``/set_sovits_weights`` accepts to their model version."""

    ref_clips: dict[str, float] = field(default_factory=dict)
    version: str = "v2"
    locale: str = "zh_CN"
    setup_s: float = 0.0
    rtf: float = 0.0
    gpt_weights: set[str] = field(default_factory=set)
    sovits_weights: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    max_in_flight: int = 0  # the most /tts requests it held at once (answered or waiting)
    streamed_chunks: list[int] = field(default_factory=list)  # audio chunks of each finished stream
    _in_flight: int = 0
    _failures: list[int] = field(default_factory=list)
    _crashes: list[int | None] = field(default_factory=list)
    _pipeline_errors: list[str] = field(default_factory=list)
    _hangs: int = 0
    _hang_seconds: float | None = None
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"unknown version {self.version}")
        self._initial_version = self.version
        self._busy = asyncio.Lock()  # the server's one event loop, blocked by a synthesis
        self.app = FastAPI()
        self.app.add_api_route("/tts", self._get, methods=["GET"])
        self.app.add_api_route("/tts", self._post, methods=["POST"])
        self.app.add_api_route("/control", self._control, methods=["GET"])
        self.app.add_api_route("/set_gpt_weights", self._set_gpt_weights, methods=["GET"])
        self.app.add_api_route("/set_sovits_weights", self._set_sovits_weights, methods=["GET"])

    @property
    def sample_rate(self) -> int:
        return VERSIONS[self.version][0]

    # --- what tests make it do ----------------------------------------------------------------

    def fail_next(self, times: int, status: int = 500) -> None:
        """Answer the next ``times`` requests with a crash of this status (plain-text body)."""
        with self._lock:
            self._failures.extend([status] * times)

    def crash_next(self, times: int = 1, after_chunks: int | None = None) -> None:
        """Crash the next ``times`` syntheses inside inference: 200 with a second of 16 kHz zeros;
        a stream sends ``after_chunks`` chunks (None: none), then the zeros, then is cut."""
        with self._lock:
            self._crashes.extend([after_chunks] * times)

    def pipeline_error_next(self, exception: str, times: int = 1) -> None:
        """Fail the next ``times`` syntheses before inference with this exception text
        (e.g. ``OOM``): 400 "tts failed", or a cut stream when streaming."""
        with self._lock:
            self._pipeline_errors.extend([exception] * times)

    def hang(self, times: int | None = None, seconds: float | None = None) -> None:
        """Accept the next ``times`` requests (None: every one) and send nothing back for ``seconds``
        (then answer as usual), or, with ``seconds=None``, until the fake stops."""
        with self._lock:
            self._hangs = -1 if times is None else times
            self._hang_seconds = seconds

    def __enter__(self) -> "FakeGptSovits":
        self._server = ServerThread(self.app).start()
        self.url = self._server.url
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._released.set()  # let hanging requests end so the server can shut down
        self._server.stop()

    # --- endpoints ----------------------------------------------------------------------------

    async def _get(
        self,
        text: str | None = None,
        text_lang: str | None = None,
        ref_audio_path: str | None = None,
        prompt_lang: str | None = None,
        prompt_text: str = "",
        text_split_method: str = "cut5",
        batch_size: int = 1,
        speed_factor: float = 1.0,
        fragment_interval: float = 0.3,
        seed: int = -1,
        media_type: str = "wav",
        streaming_mode: bool | int = False,
    ) -> Response:
        if text_lang is None or prompt_lang is None:  # api_v2.py calls .lower() on them unchecked
            return PlainTextResponse("Internal Server Error", status_code=500)
        req = {
            "text": text,
            "text_lang": text_lang.lower(),
            "ref_audio_path": ref_audio_path,
            "prompt_text": prompt_text,
            "prompt_lang": prompt_lang.lower(),
            "text_split_method": text_split_method,
            "batch_size": int(batch_size),
            "speed_factor": float(speed_factor),
            "fragment_interval": fragment_interval,
            "seed": seed,
            "media_type": media_type,
            "streaming_mode": streaming_mode,
        }
        return await self._handle(req, method="GET")

    async def _post(self, request: TTSRequest) -> Response:
        return await self._handle(request.model_dump(), method="POST")

    async def _control(self, command: str | None = None) -> Response:
        async with self._busy:
            if command is None:
                return JSONResponse(status_code=400, content={"message": "command is required"})
            self.controls.append(command)
            if command == "restart":  # os.execl: the process starts again with its configuration
                self.version = self._initial_version
            return JSONResponse(content=None)

    async def _set_gpt_weights(self, weights_path: str | None = None) -> Response:
        async with self._busy:
            if weights_path in ("", None):
                return _bad("gpt weight path is required")
            if weights_path not in self.gpt_weights:
                return _bad("change gpt weight failed", Exception=f"{weights_path} not exists")
            return JSONResponse(content={"message": "success"})

    async def _set_sovits_weights(self, weights_path: str | None = None) -> Response:
        async with self._busy:
            if weights_path in ("", None):
                return _bad("sovits weight path is required")
            if weights_path not in self.sovits_weights:
                return _bad("change sovits weight failed", Exception=f"{weights_path} not exists")
            self.version = self.sovits_weights[weights_path]  # upstream reads it from the file
            return JSONResponse(content={"message": "success"})

    async def _handle(self, req: dict[str, Any], method: str) -> Response:
        # _arrived_busy: it came while a synthesis still blocked the server (it waits behind it).
        arrival = {"_method": method, "_received_at": time.monotonic(), "_arrived_busy": self._busy.locked()}
        self.requests.append(arrival | req)
        if (error := self._check_params(req)) is not None:
            return error
        mode = req["streaming_mode"]
        if mode not in (0, 1, 2, 3):  # True/False compare equal to 1/0
            return _bad("the value of streaming_mode must be 0, 1, 2, 3(int) or true/false(bool)")
        self._enter()
        if mode:
            return StreamingResponse(self._stream(req, int(mode)), media_type=f"audio/{req['media_type']}")
        try:
            return await self._synthesize_blocking(req)
        finally:
            self._in_flight -= 1

    def _enter(self) -> None:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)

    async def _synthesize_blocking(self, req: dict[str, Any]) -> Response:
        async with self._busy:
            if (early := await self._hang_or_fail()) is not None:
                return early
            try:
                rate, audio = self._synthesize(req)
            except PipelineError as exc:
                return _bad("tts failed", Exception=str(exc))
            await asyncio.sleep(self.setup_s + self.rtf * len(audio) / rate)
            return Response(_pack(audio, rate, req["media_type"]), media_type=f"audio/{req['media_type']}")

    async def _hang_or_fail(self) -> Response | None:
        with self._lock:
            hanging, seconds = self._hangs != 0, self._hang_seconds
            self._hangs -= 1 if self._hangs > 0 else 0
        if hanging and not await hold(self._released, seconds):
            return PlainTextResponse("stopping", status_code=503)  # the client gave up long ago
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return PlainTextResponse("Internal Server Error", status_code=failure)
        return None

    # --- the pipeline ---------------------------------------------------------------------------

    def _message(self, key: str) -> str:
        return MESSAGES[key] if self.locale == "en_US" else key

    def _check_params(self, req: dict[str, Any]) -> JSONResponse | None:
        """api_v2.py's ``check_params``, same order, same messages."""
        languages = VERSIONS[self.version][1]
        text_lang = req.get("text_lang", "")
        prompt_lang = req.get("prompt_lang", "")
        media_type = req.get("media_type", "wav")
        if req.get("ref_audio_path") in (None, ""):
            return _bad("ref_audio_path is required")
        if req.get("text") in (None, ""):
            return _bad("text is required")
        if text_lang in (None, ""):
            return _bad("text_lang is required")
        if text_lang.lower() not in languages:
            return _bad(f"text_lang: {text_lang} is not supported in version {self.version}")
        if prompt_lang in (None, ""):
            return _bad("prompt_lang is required")
        if prompt_lang.lower() not in languages:
            return _bad(f"prompt_lang: {prompt_lang} is not supported in version {self.version}")
        if media_type not in ("wav", "raw", "ogg", "aac"):
            return _bad(f"media_type: {media_type} is not supported")
        if req.get("text_split_method", "cut5") not in CUT_METHODS:
            return _bad(f"text_split_method:{req.get('text_split_method')} is not supported")
        return None

    def _prepare(self, req: dict[str, Any]) -> list[str]:
        """``TTS.run`` up to inference: its checks in its order; the sentences to speak."""
        _, languages, needs_prompt, _ = VERSIONS[self.version]
        if req["text_lang"] not in languages:  # a bare assert: str(AssertionError()) == ""
            raise PipelineError("")
        if req["prompt_text"] and req["prompt_lang"] not in languages:
            raise PipelineError("")
        if not req["prompt_text"] and needs_prompt:
            raise PipelineError("prompt_text cannot be empty when using SoVITS_V3")
        ref = req["ref_audio_path"]
        if ref not in self.ref_clips:
            raise PipelineError(f"{ref} not exists")
        if not 3.0 <= self.ref_clips[ref] <= 10.0:
            raise PipelineError(self._message("参考音频在3~10秒范围外，请更换！"))
        with self._lock:
            error = self._pipeline_errors.pop(0) if self._pipeline_errors else None
        if error is not None:
            raise PipelineError(error)
        text = str(req["text"])
        if not text.strip():
            raise PipelineError(self._message("请输入有效文本"))
        # Pure symbols (emoji, punctuation) are skipped: nothing is left to pronounce.
        return [s for s in SENTENCE_END.split(text) if re.sub(r"\W+", "", s)]

    def _synthesize(self, req: dict[str, Any]) -> tuple[int, np.ndarray]:
        sentences = self._prepare(req)
        with self._lock:
            crashed = self._crashes.pop(0) if self._crashes else False
        if not sentences or crashed is not False:
            return SILENCE_RATE, np.zeros(SILENCE_RATE, dtype=np.int16)
        rate = self.sample_rate
        return rate, synth_audio(" ".join(sentences), float(req["speed_factor"]), rate)

    async def _stream(self, req: dict[str, Any], mode: int) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream_chunks(req, mode):
                yield chunk
        finally:
            self._in_flight -= 1

    async def _stream_chunks(self, req: dict[str, Any], mode: int) -> AsyncIterator[bytes]:
        """api_v2's streaming generator: errors after the 200 raise, which cuts the stream."""
        if (early := await self._hang_or_fail()) is not None:
            raise RuntimeError(f"stream failed before its first chunk ({early.status_code})")
        try:
            sentences = self._prepare(req)
        except PipelineError as exc:
            raise RuntimeError(f"tts failed: {exc}") from exc
        with self._lock:
            crash = self._crashes.pop(0) if self._crashes else False
        rate = self.sample_rate
        can_stream_tokens = VERSIONS[self.version][3]
        speed = float(req["speed_factor"])
        interval = np.zeros(int(rate * float(req.get("fragment_interval", 0.3))), dtype=np.int16)
        sent = 0
        header_sent = False

        def emit(chunk: np.ndarray, chunk_rate: int) -> bytes:
            nonlocal header_sent
            head = b""
            if not header_sent and req["media_type"] == "wav":
                head = wave_header(chunk_rate)
            header_sent = True
            return head + chunk.tobytes()

        if sentences:
            await asyncio.sleep(self.setup_s)
        for sentence in sentences:
            audio = synth_audio(sentence, speed, rate)
            if mode == 1 or not can_stream_tokens:
                pieces = [np.concatenate([audio, interval])]
            else:
                step = int(TOKEN_CHUNK_S * rate / speed)
                pieces = [audio[i : i + step] for i in range(0, len(audio), step)] + [interval]
            for piece in pieces:
                if crash is not False and sent >= (crash or 0):
                    yield emit(np.zeros(SILENCE_RATE, dtype=np.int16), SILENCE_RATE)
                    raise RuntimeError("inference crashed")
                await asyncio.sleep(self.rtf * len(piece) / rate)
                sent += 1
                yield emit(piece, rate)
        self.streamed_chunks.append(sent)


def _bad(message: str, **extra: str) -> JSONResponse:
    return JSONResponse(status_code=400, content={"message": message, **extra})


def wave_header(sample_rate: int) -> bytes:
    """api_v2's ``wave_header_chunk``: a 44-byte header written for zero frames (data size 0)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(b"")
    return buffer.getvalue()


def synth_audio(text: str, speed_factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """int16 mono: a gliding tone gated into ~4 Hz "syllables", with leading and trailing silence."""
    duration = max(0.3, len(text) * SECONDS_PER_CHAR / max(speed_factor, 0.1))
    t = np.arange(int(duration * sample_rate)) / sample_rate
    tone = np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    edge = int(0.1 * sample_rate)
    syllables[:edge] = 0
    syllables[-edge:] = 0
    return (0.5 * tone * syllables * 32767).astype(np.int16)


def _pack(audio: np.ndarray, rate: int, media_type: str) -> bytes:
    if media_type == "raw":
        return audio.tobytes()
    if media_type == "aac":
        return subprocess.run(
            [
                *("ffmpeg", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0"),
                *("-c:a", "aac", "-b:a", "192k", "-vn", "-f", "adts", "pipe:1"),
            ],
            input=audio.tobytes(),
            capture_output=True,
            check=True,
        ).stdout
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="ogg" if media_type == "ogg" else "wav")
    return buffer.getvalue()
