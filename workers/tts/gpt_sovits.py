"""Speech from a GPT-SoVITS server through its ``api_v2.py`` HTTP API (``POST /tts``).

GPT-SoVITS clones the voice of a short reference clip (3-10 s, a path on the *server's* disk) and
copies its delivery, so emotion is expressed by choosing a reference clip recorded in that emotion:
``persona.voice.gpt_sovits.emotion_refs[emotion]`` replaces the default clip when present.
The server returns audio only (no timings): the animation stage derives visemes from the text.

How the real server behaves, and what this client does about it:

- It synthesizes one request at a time and queues the rest. Requests take a slot first
  (pipelines/tts_slots.py, ``gpt_sovits_slots`` per server over all workers), so a timeout measures
  the synthesis, not the queue; the read timeout grows with the text.
- A request that timed out may still be running. The segment keeps its slot and asks again only
  once the server answers a cheap probe (``GET /control`` without a command answers 400 at once,
  but only when the server's event loop is free) or as long as the timeout again has passed; after
  its last try the slot stays taken that long, so the stage's own retry waits too.
- Silence that looks like success (text with nothing to pronounce, or a crash during inference:
  200 with a second of 16 kHz zeros) is ``tts_silent``: final for text without content, retried
  otherwise (the server reloads its models after a crash).
- A 400 ``tts failed`` is permanent or transient by its message (gpt_sovits_errors.py).
- The sample rate is the WAV's own: 32 kHz for v1/v2/v2Pro, 24 kHz for v3, 48 kHz for v4.
- With ``gpt_sovits_streaming_mode`` the answer is a WAV header with data size 0 and raw PCM
  chunks; errors after the 200 cut the stream, and the pipeline's own refusals only show up that
  way, so a cut stream is asked again once without streaming, where the cause answers as a 400.
  A stream still cut at the last try is ``tts_stream_cut``, retryable. ``stream`` hands the chunks
  over as they arrive: the tts stage stores and announces a reply's first audio from them
  (pipelines/first_audio.py).
"""

import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np
import redis
import soundfile as sf

from pipelines.audio_types import SynthesizedSpeech
from pipelines.errors import StageError
from pipelines.gpt_sovits_versions import VERSIONS, voice_problems
from pipelines.personas import load_personas
from pipelines.settings import Settings
from pipelines.tts_slots import Lease, ServerSlots
from schemas.errors import ErrorCode
from schemas.persona import GptSovitsVoice, Persona
from workers.tts.gpt_sovits_errors import classify_400
from workers.tts.wav_stream import WavStream, WavStreamError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
MAX_BACKOFF_S = 8.0
SILENT_PEAK = 10 ** (-50 / 20)  # below -50 dBFS everywhere: no speech
TIME_LIMIT_MARGIN_S = 5.0  # stop before the task's soft time limit, with the slot in order
SLOT_GRACE_S = 2.0  # a lease outlives its request's timeout by this much
_PRONOUNCEABLE = re.compile(r"\W+")


def refuse_unvoiceable_personas(settings: Settings) -> None:
    """At worker start-up: every persona with a GPT-SoVITS voice must suit the server's version."""
    problems = [
        problem
        for persona in load_personas(settings.personas_dir).values()
        if persona.voice.gpt_sovits is not None
        for problem in voice_problems(persona, settings.gpt_sovits_version)
    ]
    if problems:
        raise RuntimeError(
            f"VTUBER_GPT_SOVITS_VERSION={settings.gpt_sovits_version} cannot voice every persona: "
            + "; ".join(problems)
        )


class _AskAgain(Exception):
    """A failure this client retries itself (after the given wait)."""

    def __init__(self, error: StageError, *, whole: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.whole = whole  # ask again without streaming


@dataclass
class _Answer:
    samples: np.ndarray
    sample_rate: int


class GptSovitsSynthesizer:
    """SpeechSynthesizer for a GPT-SoVITS ``api_v2.py`` server at ``settings.gpt_sovits_url``."""

    name = "gpt_sovits"

    def __init__(
        self,
        settings: Settings,
        client: httpx.Client | None = None,
        *,
        backoff_base_s: float = 0.5,
        redis_client: redis.Redis | None = None,
    ) -> None:
        self._base = settings.gpt_sovits_url.rstrip("/")
        self._url = self._base + "/tts"
        self._settings = settings
        self._version = VERSIONS[settings.gpt_sovits_version]
        self._max_retries = max(0, settings.gpt_sovits_max_retries)
        self._backoff_base_s = backoff_base_s
        self._client = client or httpx.Client()
        self._slots: ServerSlots | None = None
        if settings.gpt_sovits_slots > 0:
            self._slots = ServerSlots(
                redis_client or redis.Redis.from_url(settings.redis_url, socket_timeout=10),
                self._base,
                settings.gpt_sovits_slots,
            )

    def synthesize(self, text: str, *, persona: Persona, emotion: str) -> SynthesizedSpeech:
        voice = persona.voice.gpt_sovits
        if voice is None:
            raise StageError(ErrorCode.tts_bad_request, "persona has no GPT-SoVITS voice")
        request = tts_request(text, voice, emotion, streaming_mode=self._settings.gpt_sovits_streaming_mode)
        answer = self._ask(request)
        return SynthesizedSpeech(
            samples=answer.samples,
            sample_rate=answer.sample_rate,
            phonemes=None,
            text_phonemes=None,
            extra={"engine": self.name, "ref_audio_path": request["ref_audio_path"], "emotion": emotion},
        )

    @property
    def streaming(self) -> bool:
        """Whether the server is asked to stream (``gpt_sovits_streaming_mode``): then the tts
        stage calls ``stream`` for a reply's first segment."""
        return self._settings.gpt_sovits_streaming_mode > 0

    def stream(
        self, text: str, *, persona: Persona, emotion: str, on_chunk: Callable[[np.ndarray, int], None]
    ) -> SynthesizedSpeech:
        """Like ``synthesize`` with streaming on, calling ``on_chunk(samples, rate)`` as audio
        arrives. After a cut stream the audio is asked again whole (no more chunks), so the chunks
        handed over are the start of the result only when the server voices alike twice."""
        voice = persona.voice.gpt_sovits
        if voice is None:
            raise StageError(ErrorCode.tts_bad_request, "persona has no GPT-SoVITS voice")
        mode = self._settings.gpt_sovits_streaming_mode or 2
        request = tts_request(text, voice, emotion, streaming_mode=mode)
        answer = self._ask(request, on_chunk=on_chunk)
        return SynthesizedSpeech(
            samples=answer.samples,
            sample_rate=answer.sample_rate,
            extra={"engine": self.name, "ref_audio_path": request["ref_audio_path"], "emotion": emotion},
        )

    # --- one segment: attempts, waits and the slot ---------------------------------------------

    def _ask(
        self, request: dict[str, object], on_chunk: Callable[[np.ndarray, int], None] | None = None
    ) -> _Answer:
        deadline = time.monotonic() + max(1.0, self._settings.tts_time_limit_s - TIME_LIMIT_MARGIN_S)
        slot = _Slot(self._slots)  # kept from one attempt to the next: no other segment cuts in
        attempt = 0
        try:
            while True:
                try:
                    last = attempt >= self._max_retries
                    return self._attempt(request, deadline, slot, last=last, on_chunk=on_chunk)
                except _AskAgain as again:
                    if attempt >= self._max_retries:
                        raise again.error from again
                    if again.whole:
                        request = request | {"streaming_mode": 0}
                    delay = min(self._backoff_base_s * 2.0**attempt, MAX_BACKOFF_S, _left(deadline))
                    log.warning("%s; retry %d in %.2f s", again.error.message, attempt + 1, delay)
                    time.sleep(max(0.0, delay))
                    attempt += 1
        finally:
            slot.finish()

    def _attempt(
        self,
        request: dict[str, object],
        deadline: float,
        slot: "_Slot",
        *,
        last: bool,
        on_chunk: Callable[[np.ndarray, int], None] | None,
    ) -> _Answer:
        text = str(request["text"])
        read_timeout = min(self.read_timeout_s(text), _left(deadline))
        if read_timeout <= 0:
            raise StageError(
                ErrorCode.tts_timeout, self._late("no time left for another request"), retryable=True
            )
        wait_s = min(self._settings.gpt_sovits_slot_wait_s, _left(deadline) - read_timeout)
        if not slot.take(lease_s=read_timeout + CONNECT_TIMEOUT_S + SLOT_GRACE_S, wait_s=wait_s):
            raise StageError(
                ErrorCode.tts_timeout,
                self._late(f"every slot stayed busy for {max(0.0, wait_s):.1f} s (other segments in flight)"),
                retryable=True,
            )
        # Until the server answers it may be working on the request (a timeout, a crash of this
        # process): then the slot stays taken for as long as that may last.
        slot.keep_s = read_timeout + SLOT_GRACE_S
        try:
            answer = self._send(request, read_timeout, on_chunk)
            slot.keep_s = None
            return answer
        except (_AskAgain, StageError):  # the server answered
            slot.keep_s = None
            raise
        except httpx.ConnectError as exc:  # never reached the server
            slot.keep_s = None
            raise _AskAgain(
                StageError(ErrorCode.tts_unavailable, self._unreachable(exc), retryable=True)
            ) from exc
        except (httpx.ReadTimeout, _StreamTooSlow) as exc:
            error = StageError(
                ErrorCode.tts_timeout,
                f"GPT-SoVITS at {self._url} did not answer within {read_timeout:.1f} s: {exc}",
                retryable=True,
            )
            if last:
                raise error from exc  # the next try waits for this slot to expire
            self._wait_until_free(slot, hold_s=read_timeout, deadline=deadline)
            slot.keep_s = None  # free, or long enough gone: ask again in the same slot
            raise _AskAgain(error) from exc
        except (httpx.TransportError, _CutStream) as exc:  # dropped, or cut after the 200
            slot.keep_s = None
            cut = isinstance(exc, _CutStream) or bool(request.get("streaming_mode"))
            message = f"GPT-SoVITS cut its audio stream: {exc}" if cut else self._unreachable(exc)
            code = ErrorCode.tts_stream_cut if cut else ErrorCode.tts_unavailable
            raise _AskAgain(StageError(code, message, retryable=True), whole=cut) from exc

    def read_timeout_s(self, text: str) -> float:
        """The read timeout for ``text``: synthesis time grows with its length."""
        return self._settings.gpt_sovits_timeout_s + self._settings.gpt_sovits_timeout_per_char_s * len(text)

    def _wait_until_free(self, slot: "_Slot", *, hold_s: float, deadline: float) -> bool:
        """After a timeout: wait until the server answers a probe (True: it is free) or ``hold_s``
        passes (False: it may still have been working), holding the slot meanwhile."""
        wait_s = max(0.0, min(hold_s, _left(deadline)))
        slot.hold_for(wait_s + SLOT_GRACE_S)
        try:
            self._client.get(
                self._base + "/control", timeout=httpx.Timeout(wait_s, connect=min(CONNECT_TIMEOUT_S, wait_s))
            )
        except httpx.TransportError:
            return False
        return True

    # --- one request ------------------------------------------------------------------------------

    def _send(
        self,
        request: dict[str, object],
        read_timeout: float,
        on_chunk: Callable[[np.ndarray, int], None] | None,
    ) -> _Answer:
        timeout = httpx.Timeout(read_timeout, connect=min(CONNECT_TIMEOUT_S, read_timeout))
        text = str(request["text"])
        if not request.get("streaming_mode"):
            response = self._client.post(self._url, json=request, timeout=timeout)
            self._check_status(response)
            samples, sample_rate = _decode_wav(response.content)
            return self._judge(text, samples, sample_rate)
        with self._client.stream("POST", self._url, json=request, timeout=timeout) as response:
            if not response.is_success:
                response.read()
                self._check_status(response)
            samples, sample_rate = self._read_stream(response, read_timeout, on_chunk)
        return self._judge(text, samples, sample_rate)

    def _read_stream(
        self,
        response: httpx.Response,
        total_s: float,
        on_chunk: Callable[[np.ndarray, int], None] | None,
    ) -> tuple[np.ndarray, int]:
        """Every chunk until the stream ends; a stream that ends early raises _CutStream."""
        reader = WavStream()
        chunks: list[np.ndarray] = []
        started = time.monotonic()
        try:
            for data in response.iter_bytes():
                samples = reader.feed(data)
                if len(samples) and reader.sample_rate is not None:
                    chunks.append(samples)
                    if on_chunk is not None:
                        on_chunk(samples, reader.sample_rate)
                if time.monotonic() - started > total_s:
                    raise _StreamTooSlow(f"the stream took longer than {total_s:.1f} s")
        except httpx.RemoteProtocolError as exc:
            raise _CutStream(f"{exc} after {reader.samples_read} samples") from exc
        except WavStreamError as exc:
            raise StageError(ErrorCode.tts_failed, f"GPT-SoVITS streamed no WAV: {exc}") from exc
        if reader.sample_rate is None:
            # An empty 200: the pipeline found nothing to say (errors cut the stream instead).
            return np.zeros(0, dtype=np.float32), self._version.sample_rate
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return audio, reader.sample_rate

    def _check_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        if response.status_code >= 500:
            raise _AskAgain(
                StageError(
                    ErrorCode.tts_unavailable,
                    f"GPT-SoVITS server error {response.status_code}: {response.text[:200]}",
                    retryable=True,
                )
            )
        raise _client_error(response)

    def _judge(self, text: str, samples: np.ndarray, sample_rate: int) -> _Answer:
        """Refuse silence that came back as success; note a rate the version does not produce."""
        peak = float(np.abs(samples).max()) if len(samples) else 0.0
        if peak < SILENT_PEAK:
            seconds = len(samples) / sample_rate if sample_rate else 0.0
            if not _PRONOUNCEABLE.sub("", text):
                raise StageError(
                    ErrorCode.tts_silent,
                    f"GPT-SoVITS returned {seconds:.2f} s of silence: the text has nothing to pronounce",
                )
            raise _AskAgain(
                StageError(
                    ErrorCode.tts_silent,
                    f"GPT-SoVITS returned {seconds:.2f} s of silence at {sample_rate} Hz (peak {peak:.5f}) "
                    "for text with content: it failed during synthesis",
                    retryable=True,
                )
            )
        if sample_rate != self._version.sample_rate:
            log.warning(
                "GPT-SoVITS answered at %d Hz; a %s model gives %d Hz (VTUBER_GPT_SOVITS_VERSION?)",
                sample_rate,
                self._version.name,
                self._version.sample_rate,
            )
        return _Answer(samples, sample_rate)

    def _unreachable(self, exc: Exception) -> str:
        return f"GPT-SoVITS at {self._url} unreachable: {type(exc).__name__}: {exc}"

    def _late(self, why: str) -> str:
        return f"GPT-SoVITS at {self._url} did not answer in time: {why}"


class _Slot:
    """One segment's slot on the server (always granted when slots are off)."""

    def __init__(self, slots: ServerSlots | None) -> None:
        self._slots = slots
        self._lease: Lease | None = None
        self.keep_s: float | None = None  # at the end: None frees the slot, else keep it this long

    def take(self, *, lease_s: float, wait_s: float) -> bool:
        """Hold the slot for ``lease_s`` more seconds, taking one (waiting up to ``wait_s``) if
        this segment has none yet or lost its own."""
        if self._slots is None or (self._lease is not None and self._lease.hold_for(lease_s)):
            return True
        self._lease = self._slots.acquire(lease_s=lease_s, wait_s=wait_s)
        return self._lease is not None

    def hold_for(self, seconds: float) -> None:
        if self._lease is not None:
            self._lease.hold_for(seconds)

    def finish(self) -> None:
        if self._lease is None:
            return
        if self.keep_s is None:
            self._lease.release()
        else:
            self._lease.hold_for(self.keep_s)
        self._lease = None


class _CutStream(Exception):
    """The stream ended before its end: the server failed after it had answered 200."""


class _StreamTooSlow(Exception):
    """Chunks kept coming, but the whole took longer than the request's timeout."""


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def tts_request(
    text: str, voice: GptSovitsVoice, emotion: str, *, streaming_mode: int = 0
) -> dict[str, object]:
    """The ``/tts`` JSON body: the emotion's reference clip if the persona has one, else the default.

    Languages are the persona's, already lower-case (the server's pipeline is case-sensitive).
    Optional fields are left out rather than sent as null: api_v2 answers an explicit null with 422.
    """
    ref = voice.emotion_refs.get(emotion)
    text_lang = voice.text_lang or "en"  # always set inside a Persona
    prompt_lang = (ref.prompt_lang if ref and ref.prompt_lang else None) or voice.prompt_lang or text_lang
    return {
        "text": text,
        "text_lang": text_lang,
        "ref_audio_path": ref.ref_audio_path if ref else voice.ref_audio_path,
        "prompt_text": ref.prompt_text if ref else voice.prompt_text,
        "prompt_lang": prompt_lang,
        "speed_factor": voice.speed_factor,
        "media_type": "wav",
        "streaming_mode": streaming_mode if streaming_mode else False,
        "text_split_method": "cut5",
        "batch_size": 1,
    }


def _client_error(response: httpx.Response) -> StageError | _AskAgain:
    """api_v2.py answers bad input with 400 and ``{"message": ..., "Exception": ...}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    prefix = f"GPT-SoVITS rejected the request ({response.status_code})"
    if response.status_code == 400 and isinstance(body, dict) and "message" in body:
        exception = body.get("Exception")
        verdict = classify_400(str(body["message"]), None if exception is None else str(exception))
        error = StageError(verdict.code, f"{prefix}: {verdict.message}", retryable=verdict.retryable)
        return _AskAgain(error) if verdict.retry_here else error
    # FastAPI's own 422 validation body, or whatever else came back
    message = str(body["detail"]) if isinstance(body, dict) and "detail" in body else response.text[:200]
    return StageError(ErrorCode.tts_bad_request, f"{prefix}: {message}")


def _decode_wav(content: bytes) -> tuple[np.ndarray, int]:
    try:
        data, sample_rate = sf.read(io.BytesIO(content), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise StageError(ErrorCode.tts_failed, f"GPT-SoVITS returned undecodable audio: {exc}") from exc
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), int(sample_rate)
