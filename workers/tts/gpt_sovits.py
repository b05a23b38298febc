"""Speech from a GPT-SoVITS server through its ``api_v2.py`` HTTP API (``POST /tts``).

GPT-SoVITS clones the voice of a short reference clip (3-10 s, a path on the *server's* disk) and
copies its delivery, so emotion is expressed by choosing a reference clip recorded in that emotion:
``persona.voice.gpt_sovits.emotion_refs[emotion]`` replaces the default clip when present.
The server returns audio only (no timings): the animation stage derives visemes from the text.
"""

import io
import logging
import time

import httpx
import numpy as np
import soundfile as sf

from pipelines.audio_types import SynthesizedSpeech
from pipelines.errors import StageError
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from schemas.persona import GptSovitsVoice, Persona

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 8.0


class GptSovitsSynthesizer:
    """SpeechSynthesizer for a GPT-SoVITS ``api_v2.py`` server at ``settings.gpt_sovits_url``."""

    name = "gpt_sovits"

    def __init__(
        self, settings: Settings, client: httpx.Client | None = None, *, backoff_base_s: float = 0.5
    ) -> None:
        self._url = settings.gpt_sovits_url.rstrip("/") + "/tts"
        # Synthesis of a sentence takes seconds on a GPU server and more on a CPU one: the read
        # timeout is generous, the connect timeout short so a server that is down fails fast.
        self._timeout = httpx.Timeout(
            settings.gpt_sovits_timeout_s, connect=min(CONNECT_TIMEOUT_S, settings.gpt_sovits_timeout_s)
        )
        self._max_retries = max(0, settings.gpt_sovits_max_retries)
        self._backoff_base_s = backoff_base_s
        self._client = client or httpx.Client()

    def synthesize(self, text: str, *, persona: Persona, emotion: str) -> SynthesizedSpeech:
        voice = persona.voice.gpt_sovits
        if voice is None:
            raise StageError(ErrorCode.tts_bad_request, "persona has no GPT-SoVITS voice")
        request = tts_request(text, voice, emotion)
        response = self._post(request)
        samples, sample_rate = _decode_wav(response.content)
        return SynthesizedSpeech(
            samples=samples,
            sample_rate=sample_rate,
            phonemes=None,
            text_phonemes=None,
            extra={"engine": self.name, "ref_audio_path": request["ref_audio_path"], "emotion": emotion},
        )

    def _post(self, request: dict[str, object]) -> httpx.Response:
        """POST with retries on transport errors and 5xx; a 4xx is final."""
        attempt = 0
        while True:
            code = ErrorCode.tts_unavailable
            try:
                response = self._client.post(self._url, json=request, timeout=self._timeout)
            except httpx.ReadTimeout as exc:  # it took the request and never answered
                code = ErrorCode.tts_timeout
                failure = f"GPT-SoVITS at {self._url} did not answer within {self._timeout} s: {exc}"
            except httpx.TransportError as exc:  # connect errors, dropped connections
                failure = f"GPT-SoVITS at {self._url} unreachable: {type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return response
                if response.status_code < 500:
                    raise _client_error(response)
                failure = f"GPT-SoVITS server error {response.status_code}: {response.text[:200]}"
            if attempt >= self._max_retries:
                raise StageError(code, failure, retryable=True)
            delay = min(self._backoff_base_s * 2.0**attempt, MAX_BACKOFF_S)
            log.warning("%s; retry %d in %.2f s", failure, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1


def tts_request(text: str, voice: GptSovitsVoice, emotion: str) -> dict[str, object]:
    """The ``/tts`` JSON body: the emotion's reference clip if the persona has one, else the default."""
    ref = voice.emotion_refs.get(emotion)
    return {
        "text": text,
        "text_lang": voice.text_lang,
        "ref_audio_path": ref.ref_audio_path if ref else voice.ref_audio_path,
        "prompt_text": ref.prompt_text if ref else voice.prompt_text,
        "prompt_lang": (ref.prompt_lang if ref and ref.prompt_lang else voice.prompt_lang),
        "speed_factor": voice.speed_factor,
        "media_type": "wav",
        "streaming_mode": False,
        "text_split_method": "cut5",
        "batch_size": 1,
    }


def _client_error(response: httpx.Response) -> StageError:
    """api_v2.py answers bad input with 400 and ``{"message": ..., "Exception": ...}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        message = str(body["message"])
        if body.get("Exception"):
            message += f": {body['Exception']}"
    elif isinstance(body, dict) and "detail" in body:  # FastAPI's own 422 validation body
        message = str(body["detail"])
    else:
        message = response.text[:200]
    return StageError(
        ErrorCode.tts_bad_request, f"GPT-SoVITS rejected the request ({response.status_code}): {message}"
    )


def _decode_wav(content: bytes) -> tuple[np.ndarray, int]:
    try:
        data, sample_rate = sf.read(io.BytesIO(content), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise StageError(ErrorCode.tts_failed, f"GPT-SoVITS returned undecodable audio: {exc}") from exc
    if data.shape[0] == 0:
        raise StageError(ErrorCode.tts_failed, "GPT-SoVITS returned empty audio", retryable=True)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), int(sample_rate)
