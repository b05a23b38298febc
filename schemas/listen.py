"""Frames of the realtime transcription socket, ``WS /v1/sessions/{id}/listen``.

The client sends binary frames of 16 kHz mono signed 16-bit little-endian PCM and, to finish, the
text frame ``{"type": "end"}``. The server sends one JSON text frame per message below, told apart
by ``type``. ``utterance`` counts the listen's utterances from 0; after the STT worker serving the
listen was replaced, a partial (or, rarely, a final) may come again: a final is identified by its
``utterance`` and ``job_id``, and a repeated one carries the same values.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

SAMPLE_RATE = 16_000
ENCODING = "pcm_s16le"


class ListenReady(BaseModel):
    """First frame: the listen was accepted and its worker is on its way."""

    type: Literal["ready"] = "ready"
    listen_id: str
    sample_rate: int = SAMPLE_RATE
    encoding: str = ENCODING
    max_frame_bytes: int


class SpeechStarted(BaseModel):
    type: Literal["speech_started"] = "speech_started"
    utterance: int
    at_s: float = Field(description="Seconds of the listen's audio before the speech began.")


class PartialTranscript(BaseModel):
    """What the speech so far says; a later partial or the final replaces it."""

    type: Literal["partial"] = "partial"
    utterance: int
    text: str
    audio_s: float = Field(description="Seconds of this utterance's audio the text is from.")


class FinalTranscript(BaseModel):
    """The end of speech: this text was submitted as a turn of the session, ``job_id``."""

    type: Literal["final"] = "final"
    utterance: int
    text: str
    job_id: str
    start_s: float
    end_s: float


class UtteranceDropped(BaseModel):
    """Speech was detected but nothing was recognised in it (noise, a cough): no turn."""

    type: Literal["dropped"] = "dropped"
    utterance: int
    reason: str


class ListenError(BaseModel):
    """Transcribing an utterance failed; the listen goes on with the next one."""

    type: Literal["error"] = "error"
    utterance: int
    code: str
    message: str


class ListenEnded(BaseModel):
    """Last frame: the worker has finished (every final has been sent); the server closes with 1000."""

    type: Literal["ended"] = "ended"
    reason: str


ListenFrame = Annotated[
    ListenReady
    | SpeechStarted
    | PartialTranscript
    | FinalTranscript
    | UtteranceDropped
    | ListenError
    | ListenEnded,
    Field(discriminator="type"),
]


class ListenControl(BaseModel):
    """A text frame from the client: ``end`` says the audio is over (a final follows for speech in
    progress, then ``ended``)."""

    type: Literal["end"]
