"""Finished turns written the way the stages write them (job, segments, voice files in GridFS,
feedback, event logs and context in Redis), for the history, export and erasure tests."""

import io
import wave
from datetime import datetime, timedelta
from typing import Any

import redis

from pipelines.context_store import ContextStore
from pipelines.events import EventLog
from pipelines.feedback import add_feedback
from pipelines.jobs import create_job, new_id, utcnow
from pipelines.persona_prompts import record_for
from pipelines.personas import get_persona
from pipelines.segments import put_segment, speech_file_name, update_segment
from pipelines.storage import Storage
from schemas.events import EventType
from schemas.feedback import FeedbackIn
from schemas.session import ConversationTurn


def wav_bytes(seconds: float = 0.25, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00" * int(seconds * rate))
    return buffer.getvalue()


def new_session(storage: Storage, owner: str | None, persona: str = "hana") -> str:
    doc: dict[str, Any] = {
        "_id": new_id(),
        "owner": owner,
        "persona": persona,
        "persona_version": get_persona(persona).version,
        "metadata": {},
        "created_at": utcnow(),
    }
    storage.sessions.insert_one(doc)
    return str(doc["_id"])


def stored_turn(
    storage: Storage,
    client: redis.Redis,
    session_id: str,
    *,
    owner: str | None = None,
    text: str = "hello there",
    sentences: tuple[tuple[str, str], ...] = (("happy", "Hi, welcome!"), ("surprised", "First time here?")),
    kind: str = "text",
    status: str = "completed",
    viewer_id: str | None = None,
    viewer_name: str | None = None,
    persona: str = "hana",
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A turn as the pipeline leaves it; ``kind`` audio stores the viewer's recording and transcript."""
    version = get_persona(persona).version
    audio_id = None
    if kind == "audio":
        audio_id = storage.put_audio(
            wav_bytes(),
            filename="utterance.wav",
            content_type="audio/wav",
            metadata={"session_id": session_id, "owner": owner, "format": "wav", "duration_s": 0.25},
        )
    job = create_job(
        storage,
        session_id=session_id,
        kind=kind,
        persona=persona,
        persona_version=version,
        input_text=text if kind != "audio" else None,
        input_audio_id=audio_id,
        owner=owner,
        extra={
            "viewer_id": viewer_id,
            "viewer_name": viewer_name,
            "system_prompt_id": record_for(storage, persona),
        },
    )
    job_id = job["_id"]
    events = EventLog(client, ttl_s=600)
    events.emit(EventType.job_queued, job)
    for index, (emotion, sentence) in enumerate(sentences):
        put_segment(
            storage, job_id=job_id, attempt=1, index=index, text=sentence, emotion=emotion, motions=[]
        )
        ids = {}
        for fmt in ("wav", "ogg"):
            ids[fmt] = storage.replace_audio(
                wav_bytes(0.1),
                filename=speech_file_name(job_id, 1, index, fmt),
                content_type=f"audio/{fmt}",
                metadata={
                    "job_id": job_id,
                    "owner": owner,
                    "segment": index,
                    "backend": "piper",
                    "format": fmt,
                },
            )
        update_segment(
            storage,
            job_id,
            1,
            index,
            {"audio_id": ids["wav"], "duration_s": 0.1, "ready": True, "tts_backend": "piper"},
        )
    reply_text = " ".join(sentence for _, sentence in sentences)
    fields: dict[str, Any] = {
        "status": status,
        "llm_attempt": 1,
        "reply": {"text": reply_text, "emotion": sentences[0][0], "motions": [], "done": True},
        "segments_total": len(sentences),
        "models": {"llm": {"backend": "local", "model": "bundled:qwen2.5-0.5b"}},
        "created_at": created_at or utcnow(),
    }
    if kind == "audio":
        fields["transcript"] = {
            "text": text,
            "language": "en",
            "duration_s": 0.25,
            "backend": "faster_whisper",
            "model": "tiny.en",
        }
    if status == "interrupted":
        heard = sentences[0][1]
        fields["interruption"] = {"at": utcnow(), "by": "cancel", "heard_text": heard, "heard_segments": 1}
    if status == "failed":
        fields["reply"] = None
        fields["error"] = {
            "code": "llm_failed",
            "message": "the model returned an empty reply",
            "stage": "llm",
        }
    storage.jobs.update_one({"_id": job_id}, {"$set": fields})
    events.emit(EventType.job_completed if status == "completed" else EventType.job_failed, job)
    if status != "failed":
        ContextStore(client, max_turns=20, ttl_s=600).append(
            session_id,
            ConversationTurn(job_id=job_id, user=text, assistant=reply_text, at=utcnow()),
        )
    return {**job, **fields}


def rate(
    storage: Storage,
    job: dict[str, Any],
    rating: int,
    *,
    corrected: str | None = None,
    at: datetime | None = None,
) -> None:
    out = add_feedback(storage, job, FeedbackIn(rating=rating, corrected_reply=corrected))
    if at is not None:
        storage.feedback.update_one({"_id": out.id}, {"$set": {"created_at": at}})


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)
