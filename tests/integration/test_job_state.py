"""The job state machine and segment records on a real MongoDB-protocol server."""

from typing import Any

from pipelines import jobs, segments
from pipelines.storage import Storage
from schemas.errors import ErrorCode
from schemas.jobs import Stage


def must(doc: dict[str, Any] | None) -> dict[str, Any]:
    assert doc is not None
    return doc


def new_job(storage: Storage) -> str:
    doc = jobs.create_job(
        storage, session_id="s", kind="text", persona="hana", persona_version="1", input_text="hi"
    )
    return str(doc["_id"])


def test_transitions_and_terminal_states_are_final(storage: Storage) -> None:
    job_id = new_job(storage)
    assert must(jobs.get_job(storage, job_id))["status"] == "queued"
    running = jobs.begin_stage(storage, job_id, Stage.stt)
    assert running is not None and running["status"] == "running" and running["stage"] == "stt"
    assert jobs.fail_job(storage, job_id, code=ErrorCode.audio_silent, message="quiet", stage=Stage.stt)
    # A late or redelivered task can neither restart nor re-fail a finished job.
    assert jobs.begin_stage(storage, job_id, Stage.llm) is None
    assert not jobs.fail_job(storage, job_id, code=ErrorCode.internal_error, message="x", stage=None)
    assert must(jobs.get_job(storage, job_id))["error"]["code"] == "audio_silent"


def test_llm_attempts_and_completion_happen_once(storage: Storage) -> None:
    job_id = new_job(storage)
    first = jobs.begin_llm_attempt(storage, job_id)
    assert first is not None and first["llm_attempt"] == 1
    segments.put_segment(
        storage, job_id=job_id, attempt=1, index=0, text="old", emotion="neutral", motions=[]
    )
    second = jobs.begin_llm_attempt(storage, job_id)  # the worker died: a redelivery starts over
    assert second is not None and second["llm_attempt"] == 2
    assert segments.drop_older_attempts(storage, job_id, 2) == 1
    for index in range(2):
        segments.put_segment(
            storage, job_id=job_id, attempt=2, index=index, text=f"s{index}", emotion="happy", motions=[]
        )
        segments.put_segment(
            storage, job_id=job_id, attempt=2, index=index, text=f"s{index}", emotion="happy", motions=[]
        )
    assert storage.segments.count_documents({"job_id": job_id}) == 2  # upserts, no duplicates
    assert jobs.complete_job(storage, job_id, 2) is None  # the reply is not final yet
    assert jobs.finish_reply(storage, job_id, 2, seconds=1.0, reply={"text": "s0 s1", "done": True}, total=2)
    assert not jobs.finish_reply(storage, job_id, 1, seconds=1.0, reply={"done": True}, total=9)  # stale
    assert jobs.begin_llm_attempt(storage, job_id) is None  # a final reply is never regenerated
    assert jobs.complete_job(storage, job_id, 1) is None  # a stale attempt cannot complete it
    done = jobs.complete_job(storage, job_id, 2)
    assert done is not None and done["status"] == "completed"
    assert done["followups"] == jobs.JOB_COMPLETED_FOLLOWUPS  # the outbox comes with the completion
    assert jobs.complete_job(storage, job_id, 2) is None  # exactly one caller sees the completion
    assert must(jobs.get_job(storage, job_id))["status"] == "completed"


def test_ready_segments_are_counted_per_attempt(storage: Storage) -> None:
    job_id = new_job(storage)
    for attempt, index in ((1, 0), (2, 0), (2, 1)):
        segments.put_segment(
            storage, job_id=job_id, attempt=attempt, index=index, text="s", emotion="happy", motions=[]
        )
    assert segments.count_ready_segments(storage, job_id, 2) == 0
    segments.update_segment(storage, job_id, 2, 0, {"ready": True})
    segments.update_segment(storage, job_id, 1, 0, {"ready": True})
    assert segments.count_ready_segments(storage, job_id, 2) == 1


def test_audio_replace_keeps_one_copy(storage: Storage) -> None:
    first = storage.replace_audio(b"a" * 10, filename="tts/x.wav", content_type="audio/wav", metadata={})
    second = storage.replace_audio(b"b" * 20, filename="tts/x.wav", content_type="audio/wav", metadata={})
    assert first == second  # the id comes from the name: a redelivered task rewrites the same file
    assert storage.db["audio.files"].count_documents({"filename": "tts/x.wav"}) == 1
    assert storage.read_audio(second) == b"b" * 20
    info = storage.audio_info(second)
    assert info is not None and info.content_type == "audio/wav" and info.length == 20
    assert storage.audio_info("not-an-id") is None


def test_a_copy_in_another_format_is_found_by_its_name(storage: Storage) -> None:
    wav = storage.replace_audio(b"w" * 8, filename="tts/j/1/0.wav", content_type="audio/wav", metadata={})
    info = storage.audio_info(wav)
    assert info is not None and storage.copy_in_format(info, "ogg") is None  # not encoded yet
    ogg = storage.replace_audio(b"o" * 4, filename="tts/j/1/0.ogg", content_type="audio/ogg", metadata={})
    copy = storage.copy_in_format(info, "ogg")
    assert copy is not None and copy.id == ogg and copy.content_type == "audio/ogg"
