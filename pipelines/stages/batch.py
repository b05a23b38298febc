"""Batch transcription of one file: claim it, decode, transcribe with the batch's options, store."""

import time
from collections.abc import Callable

from pipelines.audio_codec import decode_to_16k_mono, ensure_not_silent
from pipelines.backends import SpeechToText
from pipelines.batches import fail_batch_file, file_id, finish_file, start_file
from pipelines.deliveries import dead_letter
from pipelines.queues import TaskName
from pipelines.stages.context import StageContext
from pipelines.time_limits import TimeLimits
from schemas.errors import ErrorCode

SttForModel = Callable[[str | None], SpeechToText]


def transcribe_batch_file(ctx: StageContext, stt_for: SttForModel, batch_id: str, index: int) -> None:
    known = ctx.storage.batch_files.find_one({"_id": file_id(batch_id, index)}, {"duration_s": 1})
    if known is None:
        return
    lease_s = TimeLimits(ctx.settings).for_batch_file(float(known.get("duration_s") or 0)).hard_s
    doc = start_file(ctx.storage, batch_id, index, lease_s=lease_s)
    if doc is None:
        return  # finished, or running under another worker's lease
    if int(doc.get("claims") or 1) > ctx.settings.max_deliveries:
        give_up_on_file(ctx, batch_id, index, claims=int(doc["claims"]))
        return
    batch = ctx.storage.batches.find_one({"_id": batch_id}) or {}
    options = batch.get("options") or {}
    started = time.perf_counter()
    samples = decode_to_16k_mono(
        ctx.storage.read_audio(doc["audio_id"]), max_seconds=ctx.settings.max_batch_audio_seconds
    )
    ensure_not_silent(samples, ctx.settings.silence_dbfs)
    transcript = stt_for(options.get("model")).transcribe(
        samples,
        language=options.get("language"),
        word_timestamps=bool(options.get("word_timestamps", True)),
        task="translate" if options.get("task") == "translate" else "transcribe",
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


def give_up_on_file(ctx: StageContext, batch_id: str, index: int, *, claims: int) -> None:
    """A file whose worker died on each of its claims is poison: keep it aside, fail it."""
    reason = f"batch file {index} was started {claims} times; its worker died each time"
    dead_letter(
        ctx.storage,
        task_id=f"batch:{batch_id}:{index}",
        task_name=TaskName.transcribe_file,
        args=[batch_id, index],
        retries=0,
        deliveries=claims,
        reason=reason,
    )
    fail_batch_file(ctx, batch_id, index, code=ErrorCode.worker_crashed, message=reason)
