"""The live STT queue's one-shot task: a file transcribed for a request that waits for it."""

from celery import Task

from pipelines.logging_setup import bind
from pipelines.oneshot_transcription import publish_outcome
from pipelines.queues import TaskName
from pipelines.stages.oneshot_transcription import transcribe_oneshot
from schemas.errors import ErrorCode
from schemas.openai_audio import OneShotOutcome, OneShotTranscription
from workers.backends import speech_to_text
from workers.runtime import app, redis_client, settings, storage
from workers.tasks.base import run_stage


@app.task(name=TaskName.transcribe_oneshot, bind=True, max_retries=settings().stage_max_retries)
def transcribe_for_request(self: Task, payload: dict[str, object]) -> None:
    request = OneShotTranscription.model_validate(payload)
    bind(request_id=request.request_id)
    ttl_s = settings().openai_sync_wait_s

    def answer(outcome: OneShotOutcome) -> None:
        publish_outcome(redis_client(), request.request_id, outcome, ttl_s=ttl_s)

    def refuse(code: ErrorCode, message: str) -> None:
        answer(OneShotOutcome(error_code=code.value, error_message=message))

    def body() -> None:
        transcript = transcribe_oneshot(
            storage(), settings(), lambda model: speech_to_text(settings(), model), request
        )
        answer(OneShotOutcome(transcript=transcript))

    run_stage(self, record_failure=refuse, body=body)
