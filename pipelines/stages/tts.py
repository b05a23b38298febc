"""Speech for one reply segment: text → audio in GridFS (wav, plus ogg/opus for browsers)."""

import time

from pipelines.audio_intake import encode_audio
from pipelines.backends import SpeechSynthesizer
from pipelines.jobs import utcnow
from pipelines.personas import get_persona
from pipelines.segments import active_segment, update_segment
from pipelines.stages.context import StageContext


def synthesize_segment(
    ctx: StageContext, tts: SpeechSynthesizer, job_id: str, attempt: int, index: int
) -> None:
    found = active_segment(ctx.storage, job_id, attempt, index)
    if found is None:
        return  # the job ended, or a newer LLM attempt replaced this segment
    job, segment = found
    if segment.get("audio_id") is None:
        started_at = utcnow()
        started = time.perf_counter()
        speech = tts.synthesize(
            segment["text"], persona=get_persona(job["persona"]), emotion=segment["emotion"]
        )
        seconds = time.perf_counter() - started
        name = f"tts/{job_id}/{attempt}/{index}"
        metadata = {
            "job_id": job_id,
            "segment": index,
            "sample_rate": speech.sample_rate,
            "duration_s": speech.duration_s,
            "backend": tts.name,
        }
        ogg_id = ctx.storage.replace_audio(
            encode_audio(speech.samples, speech.sample_rate, "ogg"),
            filename=f"{name}.ogg",
            content_type="audio/ogg",
            metadata={**metadata, "format": "ogg"},
        )
        wav_id = ctx.storage.replace_audio(
            encode_audio(speech.samples, speech.sample_rate, "wav"),
            filename=f"{name}.wav",
            content_type="audio/wav",
            metadata={**metadata, "format": "wav", "ogg_id": ogg_id},
        )
        update_segment(
            ctx.storage,
            job_id,
            attempt,
            index,
            {
                "audio_id": wav_id,
                "audio_format": "wav",
                "sample_rate": speech.sample_rate,
                "duration_s": round(speech.duration_s, 4),
                "phonemes": [[p.phoneme, p.start_s, p.end_s] for p in speech.phonemes]
                if speech.phonemes
                else None,
                "text_phonemes": speech.text_phonemes,
                "timings.tts": {
                    "started_at": started_at,
                    "finished_at": utcnow(),
                    "seconds": round(seconds, 4),
                },
            },
        )
    ctx.dispatcher.animate(job_id, attempt, index)
