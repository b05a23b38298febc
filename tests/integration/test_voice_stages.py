"""The tts and animation stages on real MongoDB, with the GPT-SoVITS client against the fake server.

GPT-SoVITS gives no phoneme timings, so this runs the energy-based lip-sync path end to end:
stage → GridFS → animation stage (espeak-ng phonemes spread over the audio) → segment ready.
"""

import io

import numpy as np
import pytest
import soundfile

from pipelines import jobs, segments
from pipelines.audio_codec import encode_audio
from pipelines.browser_copies import browser_copy
from pipelines.stages.animation import animate_segment
from pipelines.stages.context import StageContext
from pipelines.stages.tts import synthesize_segment
from tests.fakes.gpt_sovits_fake import FakeGptSovits
from workers.animation_phonemes import text_phonemes
from workers.tts.gpt_sovits import GptSovitsSynthesizer

REFS = {
    f"/srv/gpt-sovits/refs/hana/{name}.wav": 5.0 for name in ("neutral", "happy", "sad", "angry", "surprised")
}


@pytest.fixture
def context(stage_context: StageContext) -> StageContext:
    return stage_context


def test_gpt_sovits_segment_gets_audio_and_an_energy_based_track(context: StageContext) -> None:
    storage = context.storage
    job = jobs.create_job(
        storage, session_id="s", kind="text", persona="hana", persona_version="1", input_text="x"
    )
    job_id = job["_id"]
    jobs.begin_llm_attempt(storage, job_id)
    text = "Yay, thank you so much for the follow, welcome to the stream!"
    segments.put_segment(
        storage, job_id=job_id, attempt=1, index=0, text=text, emotion="happy", motions=["wave"]
    )
    jobs.finish_stage(
        storage,
        job_id,
        jobs.Stage.llm,
        seconds=1,
        fields={"reply": {"text": text, "done": True}, "segments_total": 1},
    )
    with FakeGptSovits(ref_clips=REFS) as server:
        tts = GptSovitsSynthesizer(context.settings.model_copy(update={"gpt_sovits_url": server.url}))
        synthesize_segment(context, tts, job_id, 1, 0)
        synthesize_segment(context, tts, job_id, 1, 0)  # a redelivery: no second request, no second file
        assert len(server.requests) == 1
        assert server.requests[0]["ref_audio_path"].endswith("/happy.wav")

    stored = segments.get_segment(storage, job_id, 1, 0)
    assert stored is not None and stored["phonemes"] is None
    assert stored["tts_backend"] == "gpt_sovits"  # shown per turn in history
    assert storage.db["audio.files"].count_documents({"metadata.job_id": job_id}) == 1  # the wav alone
    samples, rate = soundfile.read(io.BytesIO(storage.read_audio(stored["audio_id"])))
    assert rate == 32000 and abs(len(samples) / rate - stored["duration_s"]) < 0.001

    animate_segment(context, text_phonemes, job_id, 1, 0)
    ready = segments.get_segment(storage, job_id, 1, 0)
    assert ready is not None and ready["ready"]
    track = ready["animation"]
    assert track["source"] == "energy" and track["emotion"] == "happy"
    assert abs(track["duration_s"] - stored["duration_s"]) <= 0.02
    assert [m["name"] for m in track["motions"]] == ["wave"]
    openness = [max(k["w"] for k in curve) for curve in track["mouth"].values()]
    assert max(openness) >= 0.5  # the mouth really opens on the speech bursts
    assert track["mouth"]["aa"][0]["w"] == 0.0 and track["mouth"]["aa"][-1]["w"] == 0.0  # closed at rest
    assert jobs.get_job(storage, job_id)["status"] == "completed"  # type: ignore[index]


def test_the_ogg_copy_is_encoded_on_its_first_request_and_kept(context: StageContext) -> None:
    storage = context.storage
    speech = np.sin(np.linspace(0, 2000 * np.pi, 22050)).astype(np.float32) * 0.5
    wav = storage.replace_audio(
        encode_audio(speech, 22050, "wav"),
        filename=segments.speech_file_name("j-ogg", 1, 0, "wav"),
        content_type="audio/wav",
        metadata={"job_id": "j-ogg", "owner": "k", "format": "wav"},
    )
    info = storage.audio_info(wav)
    assert info is not None and storage.copy_in_format(info, "ogg") is None  # none made by the stage

    copy = browser_copy(storage, info, "ogg")
    assert copy is not None and copy.content_type == "audio/ogg" and copy.length < info.length
    assert copy.metadata["owner"] == "k" and copy.metadata["format"] == "ogg"  # same access rules
    decoded, rate = soundfile.read(io.BytesIO(storage.read_audio(copy.id)))
    assert rate == 48000 and abs(len(decoded) / rate - 1.0) < 0.05
    again = browser_copy(storage, info, "ogg")
    assert again is not None and again.id == copy.id  # kept: the second request encodes nothing
    assert storage.db["audio.files"].count_documents({"metadata.job_id": "j-ogg"}) == 2
    assert browser_copy(storage, info, "flac") is None  # only the browser format is made on request
    upload = storage.audio_info(
        storage.put_audio(b"RIFF", filename="u.wav", content_type="audio/wav", metadata={})
    )
    assert upload is not None and browser_copy(storage, upload, "ogg") is None  # not speech we made
