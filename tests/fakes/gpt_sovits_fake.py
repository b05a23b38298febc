"""A fake GPT-SoVITS ``api_v2.py`` server: the same ``/tts`` contract, with synthetic audio.

Reproduced from api_v2.py (v2 config): ``GET /tts`` (query) and ``POST /tts`` (JSON, FastAPI model
with the same field defaults, so a wrongly typed field gets FastAPI's 422); ``check_params`` in the
same order with the same messages (400 ``{"message": ...}``); an unknown reference path or a
reference clip outside 3-10 s fails inside the pipeline as 400
``{"message": "tts failed", "Exception": ...}``; a GET without ``text_lang``/``prompt_lang`` crashes
on ``None.lower()`` into a plain-text 500, as the real one does. Success returns 16-bit WAV at
32 kHz (``pack_wav``), ``raw`` PCM, ``ogg`` or ``aac``. Audio length follows the text length and
``speed_factor``; its envelope has syllable-like bursts so energy-based lip sync has work to do.
``hang`` makes it a server that accepts a request and then sends nothing, for a while or for good.
"""

import io
import subprocess
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np
import soundfile as sf
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from tests.fakes.server_thread import ServerThread, hold

V2_LANGUAGES = ["auto", "auto_yue", "en", "zh", "ja", "yue", "ko", "all_zh", "all_ja", "all_yue", "all_ko"]
CUT_METHODS = ["cut0", "cut1", "cut2", "cut3", "cut4", "cut5"]
SAMPLE_RATE = 32000
SECONDS_PER_CHAR = 0.06


class TTSRequest(BaseModel):
    """api_v2.py's ``TTS_Request``: same fields and defaults."""

    text: str | None = None
    text_lang: str | None = None
    ref_audio_path: str | None = None
    aux_ref_audio_paths: list[Any] | None = None
    prompt_lang: str | None = None
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


@dataclass
class FakeGptSovits:
    """``ref_clips`` maps server-side reference paths to their duration in seconds."""

    ref_clips: dict[str, float] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _hangs: int = 0
    _hang_seconds: float | None = None
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = FastAPI()
        self.app.add_api_route("/tts", self._get, methods=["GET"])
        self.app.add_api_route("/tts", self._post, methods=["POST"])

    def fail_next(self, times: int, status: int = 500) -> None:
        """Answer the next ``times`` requests with a crash of this status (plain-text body)."""
        with self._lock:
            self._failures.extend([status] * times)

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
            "seed": seed,
            "media_type": media_type,
            "streaming_mode": streaming_mode,
        }
        return await self._handle(req, method="GET")

    async def _post(self, request: TTSRequest) -> Response:
        return await self._handle(request.model_dump(), method="POST")

    async def _handle(self, req: dict[str, Any], method: str) -> Response:
        self.requests.append({"_method": method, **req})
        with self._lock:
            hanging, seconds = self._hangs != 0, self._hang_seconds
            self._hangs -= 1 if self._hangs > 0 else 0
        if hanging and not await hold(self._released, seconds):
            return PlainTextResponse("stopping", status_code=503)  # the client gave up long ago
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return PlainTextResponse("Internal Server Error", status_code=failure)
        if (error := _check_params(req)) is not None:
            return error
        if req["streaming_mode"] not in (0, 1, 2, 3):  # True/False compare equal to 1/0
            return _bad("the value of streaming_mode must be 0, 1, 2, 3(int) or true/false(bool)")
        ref = req["ref_audio_path"]
        if ref not in self.ref_clips:
            return _bad("tts failed", Exception=f"{ref} not exists")
        if not 3.0 <= self.ref_clips[ref] <= 10.0:
            return _bad("tts failed", Exception="参考音频在3~10秒范围外，请更换！")
        audio = synth_audio(req["text"], float(req["speed_factor"]))
        return Response(_pack(audio, req["media_type"]), media_type=f"audio/{req['media_type']}")


def _bad(message: str, **extra: str) -> JSONResponse:
    return JSONResponse(status_code=400, content={"message": message, **extra})


def _check_params(req: dict[str, Any]) -> JSONResponse | None:
    """api_v2.py's ``check_params``, same order, same messages."""
    text_lang = req.get("text_lang", "")
    prompt_lang = req.get("prompt_lang", "")
    media_type = req.get("media_type", "wav")
    if req.get("ref_audio_path") in (None, ""):
        return _bad("ref_audio_path is required")
    if req.get("text") in (None, ""):
        return _bad("text is required")
    if text_lang in (None, ""):
        return _bad("text_lang is required")
    if text_lang.lower() not in V2_LANGUAGES:
        return _bad(f"text_lang: {text_lang} is not supported in version v2")
    if prompt_lang in (None, ""):
        return _bad("prompt_lang is required")
    if prompt_lang.lower() not in V2_LANGUAGES:
        return _bad(f"prompt_lang: {prompt_lang} is not supported in version v2")
    if media_type not in ("wav", "raw", "ogg", "aac"):
        return _bad(f"media_type: {media_type} is not supported")
    if req.get("text_split_method", "cut5") not in CUT_METHODS:
        return _bad(f"text_split_method:{req.get('text_split_method')} is not supported")
    return None


def synth_audio(text: str, speed_factor: float) -> np.ndarray:
    """int16 mono: a gliding tone gated into ~4 Hz "syllables", with leading and trailing silence."""
    duration = max(0.3, len(text) * SECONDS_PER_CHAR / max(speed_factor, 0.1))
    t = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    edge = int(0.1 * SAMPLE_RATE)
    syllables[:edge] = 0
    syllables[-edge:] = 0
    return (0.5 * tone * syllables * 32767).astype(np.int16)


def _pack(audio: np.ndarray, media_type: str) -> bytes:
    if media_type == "raw":
        return audio.tobytes()
    if media_type == "aac":
        return subprocess.run(
            [
                *("ffmpeg", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0"),
                *("-c:a", "aac", "-b:a", "192k", "-vn", "-f", "adts", "pipe:1"),
            ],
            input=audio.tobytes(),
            capture_output=True,
            check=True,
        ).stdout
    buffer = io.BytesIO()
    sf.write(buffer, audio, SAMPLE_RATE, format="ogg" if media_type == "ogg" else "wav")
    return buffer.getvalue()
