"""Batch transcription of one file: decode, transcribe with the batch's options, store."""

import time
from collections.abc import Callable

from pipelines.audio_codec import decode_to_16k_mono, ensure_not_silent
from pipelines.backends import SpeechToText
from pipelines.batches import finish_file, start_file
from pipelines.stages.context import StageContext

SttForModel = Callable[[str | None], SpeechToText]


def transcribe_batch_file(ctx: StageContext, stt_for: SttForModel, batch_id: str, index: int) -> None:
    doc = start_file(ctx.storage, batch_id, index)
    if doc is None:
        return
    batch = ctx.storage.batches.find_one({"_id": batch_id}) or {}
    options = batch.get("options") or {}
    started = time.perf_counter()
    samples = decode_to_16k_mono(
        ctx.storage.read_audio(doc["audio_id"]), max_seconds=ctx.settings.max_batch_audio_seconds
    )
    ensure_not_silent(samples, ctx.settings.silence_dbfs)
    transcript = stt_for(options.get("model")).transcribe(
        samples, language=options.get("language"), word_timestamps=bool(options.get("word_timestamps", True))
    )
    finish_file(
        ctx,
        batch_id,
        index,
        {
            "transcript": transcript.model_dump(mode="json"),
            "seconds": round(time.perf_counter() - started, 4),
        },
        failed=False,
    )
