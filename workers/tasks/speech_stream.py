"""The tts queue's streaming task: speech for the OpenAI-compatible route, published as encoded."""

from celery import Task

from pipelines.logging_setup import bind
from pipelines.queues import TaskName
from pipelines.speech_stream import SpeechPublisher
from pipelines.stages.speech_stream import stream_speech
from schemas.errors import ErrorCode
from schemas.openai_audio import SpeechRequest
from workers.backends import speech_synthesizer
from workers.runtime import app, redis_client, settings
from workers.tasks.base import run_stage


# No retries: audio already streamed cannot be taken back, so a failure ends the stream instead.
@app.task(name=TaskName.stream_speech, bind=True, max_retries=0)
def stream_for_request(self: Task, payload: dict[str, object]) -> None:
    request = SpeechRequest.model_validate(payload)
    bind(request_id=request.request_id)
    publisher = SpeechPublisher(redis_client(), request.request_id)

    def refuse(code: ErrorCode, message: str) -> None:
        publisher.error(code.value, message)

    run_stage(
        self,
        record_failure=refuse,
        body=lambda: stream_speech(speech_synthesizer(settings()), publisher, request),
    )
