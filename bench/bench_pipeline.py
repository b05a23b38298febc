"""Pipeline benchmarks on the embedded stack (real processes, real models). Prints its numbers.

1. A spoken live turn: per-stage work and turn latency (median of several turns, after warm-up).
2. Time to first segment audio versus full-turn time, with LLM sentence streaming on and off.
3. STT real-time factor through the pipeline versus the same model called directly in-process.
4. Batch throughput (files per minute) with 1 and 2 STT worker processes.

Usage: python bench/bench_pipeline.py [--turns N] [--files N]
"""

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import typer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.audio_codec import decode_to_16k_mono
from pipelines.settings import Settings
from tools.spoken import spoken_wav
from tools.stack import Stack

PROMPTS = [
    "Hi Hana! What games do you like to play on stream?",
    "Tell me something fun about your favourite food.",
    "What should we do on tonight's stream, any ideas?",
    "How was your day today? Anything exciting happen?",
]
CLIP_TEXT = "The weather is lovely today, so let us go for a walk in the park before it rains."


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def wait(client: httpx.Client, url: str, done: tuple[str, ...] = ("completed", "failed")) -> dict[str, Any]:
    while True:
        doc: dict[str, Any] = client.get(url).json()
        if doc["status"] in done:
            return doc
        time.sleep(0.1)


def turn(
    client: httpx.Client, session: str, *, text: str | None = None, audio: bytes | None = None
) -> dict[str, Any]:
    if audio is not None:
        accepted = client.post(
            f"/v1/sessions/{session}/utterances", files={"audio": ("u.wav", audio, "audio/wav")}
        )
    else:
        accepted = client.post(f"/v1/sessions/{session}/utterances", json={"text": text})
    job = wait(client, accepted.json()["status_url"])
    if job["status"] != "completed":
        raise RuntimeError(job["error"])
    return job


def first_audio_and_total(job: dict[str, Any]) -> tuple[float, float]:
    created = ts(job["created_at"])
    first = ts(job["segments"][0]["timings"]["tts"]["finished_at"]) - created
    last = max(ts(s["timings"]["animation"]["finished_at"]) for s in job["segments"]) - created
    return first.total_seconds(), last.total_seconds()


def batch_seconds(client: httpx.Client, clip: bytes, files: int) -> float:
    started = time.perf_counter()
    accepted = client.post(
        "/v1/transcriptions", files=[("files", (f"f{i}.wav", clip, "audio/wav")) for i in range(files)]
    ).json()
    batch = wait(client, accepted["status_url"])
    assert batch["progress"]["files_done"] == files, batch["progress"]
    return time.perf_counter() - started


def main(turns: int = 4, files: int = 12) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="vtuber-bench-"))
    stack = Stack(run_dir=run_dir, env={"VTUBER_MONGO_DB": "bench"})
    stack.start()
    stack.wait_for_workers()
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            session = client.post("/v1/sessions", json={}).json()["id"]
            turn(client, session, text="Hello!")  # loads every model once
            spoken = spoken_wav(PROMPTS[0])

            stage_work: dict[str, list[float]] = {s: [] for s in ("stt", "llm", "tts", "animation")}
            latencies = []
            for _ in range(turns):
                job = turn(client, session, audio=spoken)
                for stage in stage_work:
                    stage_work[stage].append(job["timings"][stage]["seconds"])
                latencies.append(first_audio_and_total(job))
            print(f"== spoken live turn (median of {turns}, Whisper tiny.en, Qwen 0.5B, Piper joe) ==")
            for stage, values in stage_work.items():
                print(f"  {stage:<10} work {statistics.median(values):6.2f} s")
            print(f"  first segment audio ready after {statistics.median(a for a, _ in latencies):.2f} s")
            print(f"  whole turn done after          {statistics.median(b for _, b in latencies):.2f} s")

            print("== time to first audio vs full turn, text turns (median) ==")
            for streaming in ("true", "false"):
                stack.stop(next(n for n in stack.processes if n.startswith("worker-llm")))
                stack.start_worker(
                    "llm", suffix=f"-{streaming}", extra_env={"VTUBER_LLM_STREAMING": streaming}
                )
                stack.wait_for_workers()
                turn(client, session, text="Hello again!")
                pairs = [first_audio_and_total(turn(client, session, text=p)) for p in PROMPTS[:turns]]
                first = statistics.median(a for a, _ in pairs)
                total = statistics.median(b for _, b in pairs)
                print(f"  streaming={streaming:<5} first audio {first:5.2f} s   full turn {total:5.2f} s")

            clip = spoken_wav(CLIP_TEXT)
            clip_seconds = len(decode_to_16k_mono(clip)) / 16000
            through = batch_seconds(client, clip, files)
            from workers.stt.faster_whisper_backend import FasterWhisperSTT

            model = FasterWhisperSTT(Settings())
            samples = decode_to_16k_mono(clip)
            model.transcribe(samples)
            started = time.perf_counter()
            for _ in range(files):
                model.transcribe(decode_to_16k_mono(clip))
            direct = time.perf_counter() - started
            audio_total = clip_seconds * files
            print(f"== STT real-time factor, {files} clips of {clip_seconds:.1f} s, tiny.en int8 ==")
            print(f"  through the pipeline (API → queue → worker → Mongo): RTF {through / audio_total:.3f}")
            print(f"  direct, in one process:                              RTF {direct / audio_total:.3f}")
            print(f"  ratio pipeline / direct: {through / direct:.2f}")

            print(f"== batch throughput, {files} files ==")
            print(f"  1 STT worker process : {files / through * 60:6.1f} files/min")
            stack.start_worker("stt-cpu", suffix="-2")
            stack.wait_for_workers()
            batch_seconds(client, clip, 2)  # the second worker loads its model
            two = batch_seconds(client, clip, files)
            print(
                f"  2 STT worker processes: {files / two * 60:6.1f} files/min (2 cores shared with the stack)"
            )
    finally:
        stack.stop_all()


if __name__ == "__main__":
    typer.run(main)
