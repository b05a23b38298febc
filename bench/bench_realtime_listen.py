"""Realtime listen latency and capacity, through the socket a client uses (WS /v1/sessions/{id}/listen).

A stack with the API and one STT worker (one process, no LLM: finals are queued as turns nobody
answers). Piper speech with known text is streamed in 20 ms frames at real time, sentences apart by
1.5 s of silence. From the client's clock, per utterance:

- speech -> first partial: from the moment the first voiced sample was sent;
- end of speech -> final: from the moment the last voiced sample was sent. This includes the
  silence that ends an utterance (VTUBER_LISTEN_END_SILENCE_MS, 600 ms) by definition.

Both with tiny.en and base; then, with tiny.en, K listens at once on the one worker: it holds K in
real time while the finals keep coming within ``--hold-final-s`` (p95) and none is missing.

    .venv/bin/python -m bench.bench_realtime_listen [--models bundled:tiny.en --models bundled:base]
"""

import json
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from websockets.sync.client import connect

from bench.bench_live_latency import BENCH_ENV, new_session, pct
from pipelines.audio_codec import decode_to_16k_mono
from pipelines.settings import PROJECT_ROOT, get_settings
from tools.spoken import spoken_wav
from tools.stack import Stack

DOC = PROJECT_ROOT / "docs" / "realtime_listen.md"
RATE = 16_000
FRAME_S = 0.02
GAP_S = 1.5
VOICED = 0.02  # |sample| above this is speech (Piper pads its lines with near-silence)
SENTENCES = [
    "The weather is lovely today, so let us go for a walk in the park.",
    "Can you tell me a funny story about a cat and a dog?",
    "My favorite game is chess because every match feels different.",
    "Thank you for watching the stream, see you again next week.",
]


@dataclass
class Script:
    """The audio one client streams, and where its utterances' speech begins and ends (samples)."""

    pcm: bytes
    spans: list[tuple[int, int]]


@dataclass
class Observed:
    first_partial_s: list[float] = field(default_factory=list)
    final_s: list[float] = field(default_factory=list)
    finals: int = 0
    expected: int = 0


def script(lines: list[str]) -> Script:
    parts, spans, at = [np.zeros(int(RATE * GAP_S / 2), np.float32)], [], int(RATE * GAP_S / 2)
    for line in lines:
        voice = decode_to_16k_mono(spoken_wav(line))
        loud = np.flatnonzero(np.abs(voice) > VOICED)
        spans.append((at + int(loud[0]), at + int(loud[-1])))
        parts += [voice, np.zeros(int(RATE * GAP_S), np.float32)]
        at += voice.size + int(RATE * GAP_S)
    audio = np.concatenate(parts)
    return Script((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes(), spans)


def listen_once(stack: Stack, session_id: str, audio: Script, into: Observed) -> None:
    """Stream ``audio`` at real time and time partials and finals against the send schedule."""
    base = stack.api_url.replace("http://", "ws://", 1)
    url = f"{base}/v1/sessions/{session_id}/listen?access_token={stack.api_key}"
    step = int(RATE * FRAME_S) * 2
    with connect(url, open_timeout=30, max_size=None) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        started = time.monotonic()

        def send() -> None:
            for index, offset in enumerate(range(0, len(audio.pcm), step)):
                time.sleep(max(0.0, started + index * FRAME_S - time.monotonic()))
                ws.send(audio.pcm[offset : offset + step])
            ws.send(json.dumps({"type": "end"}))

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        seen_partial: set[int] = set()
        while True:
            frame = json.loads(ws.recv(timeout=120))
            now = time.monotonic() - started
            utterance = frame.get("utterance")
            if frame["type"] == "partial" and utterance not in seen_partial and utterance < len(audio.spans):
                seen_partial.add(utterance)
                into.first_partial_s.append(now - audio.spans[utterance][0] / RATE)
            elif frame["type"] == "final" and utterance < len(audio.spans):
                into.final_s.append(now - audio.spans[utterance][1] / RATE)
                into.finals += 1
            elif frame["type"] == "ended":
                break
        sender.join()
    into.expected += len(audio.spans)


def run_stack(model: str, streams_per_worker: int) -> Stack:
    env = {
        **BENCH_ENV,
        "VTUBER_STT_MODEL": model,
        "VTUBER_LISTEN_STREAMS_PER_WORKER": str(streams_per_worker),
    }
    stack = Stack(run_dir=Path(tempfile.mkdtemp(prefix="vtuber-bench-listen-")), env=env, pools=["stt-cpu"])
    stack.start()
    stack.wait_for_workers()
    return stack


def summary(observed: Observed) -> dict[str, Any]:
    def p(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {"p50": round(statistics.median(values), 2), "p95": round(pct(values, 0.95), 2)}

    return {
        "speech_to_first_partial_s": p(observed.first_partial_s),
        "end_of_speech_to_final_s": p(observed.final_s),
        "finals": f"{observed.finals}/{observed.expected}",
    }


def whisper_call_s(model: str) -> float:
    """What one Whisper call on a 3 s sentence costs in this process right now: the machine's load
    as the listen's worker meets it (every call pays for a 30 s window, however short the audio)."""
    from workers.stt.faster_whisper_backend import FasterWhisperSTT  # not workers.backends: the live
    # latency bench imported here pins an instant STT there for its own runs

    stt = FasterWhisperSTT(get_settings(), model)
    voice = decode_to_16k_mono(spoken_wav(SENTENCES[1]))
    stt.transcribe(voice, language="en", word_timestamps=False)  # loaded and warmed up
    costs = []
    for _ in range(3):
        started = time.perf_counter()
        stt.transcribe(voice, language="en", word_timestamps=False)
        costs.append(time.perf_counter() - started)
    return round(statistics.median(costs), 2)


def latency(model: str, rounds: int, audio: Script) -> dict[str, Any]:
    call_s = whisper_call_s(model)
    stack = run_stack(model, 1)
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            session = new_session(client)
            listen_once(stack, session, script(SENTENCES[:1]), Observed())  # warm-up: model loaded
            observed = Observed()
            for _ in range(rounds):
                listen_once(stack, session, audio, observed)
    finally:
        stack.stop_all()
    return {"whisper_call_s": call_s, **summary(observed)}


def capacity(model: str, counts: list[int], audio: Script, hold_final_s: float) -> tuple[int, list[Any]]:
    call_s = whisper_call_s(model)
    stack = run_stack(model, max(counts))
    rows: list[Any] = []
    held = 0
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            session = new_session(client)
            listen_once(stack, session, script(SENTENCES[:1]), Observed())
            for count in counts:
                observed = Observed()
                clients = [
                    threading.Thread(target=listen_once, args=(stack, new_session(client), audio, observed))
                    for _ in range(count)
                ]
                for thread in clients:
                    thread.start()
                for thread in clients:
                    thread.join()
                result = summary(observed)
                ok = observed.finals == observed.expected and pct(observed.final_s, 0.95) <= hold_final_s
                rows.append({"streams": count, "whisper_call_s": call_s, **result, "real_time": ok})
                print(f"  {count} streams: {json.dumps(rows[-1])}", flush=True)
                if not ok:
                    break
                held = count
    finally:
        stack.stop_all()
    return held, rows


def write_doc(report: dict[str, Any], path: Path) -> None:
    """The numbers as a markdown page, with the machine and its load (this machine is shared)."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Realtime listen: latency and capacity",
        "",
        f"From `python -m bench.bench_realtime_listen` on {when},",
        f"{os.cpu_count()} cores, load average {report['load_average_before']} before and "
        f"{report['load_average_after']} after (other work shares the machine; every Whisper call pays a",
        "full 30 s window, so its cost grows with the load, not with the length of speech).",
        "Sentences of Piper speech streamed in 20 ms frames at real time through the socket, one STT",
        "worker process. End of speech -> final includes the 600 ms of silence that ends an utterance.",
        "A listen keeps up while its Whisper calls cost less than its audio lasts: a call per pause",
        "(its text is the final when the pause ends the speech) and partials spaced at least three",
        "calls apart (pipelines/listen_transcriber.py). A worker",
        "that falls behind catches up in the pauses between sentences, or not at all: then every",
        "later final waits for the backlog, which is what a p95 far above the p50 shows.",
        "",
        "| model | one Whisper call (s) | speech -> first partial p50 / p95 (s) "
        "| end of speech -> final p50 / p95 (s) | finals |",
        "|---|---|---|---|---|",
    ]
    for model, row in report["latency"].items():
        partial, final = row["speech_to_first_partial_s"], row["end_of_speech_to_final_s"]
        lines.append(
            f"| {model} | {row['whisper_call_s']} | {partial.get('p50', '-')} / {partial.get('p95', '-')} | "
            f"{final.get('p50', '-')} / {final.get('p95', '-')} | {row['finals']} |"
        )
    capacity = report["capacity_tiny_en"]
    lines += [
        "",
        "Concurrent listens on one STT worker (tiny.en), held in real time while the p95 end of speech",
        f"-> final stays within {report['hold_final_s']} s and no final is missing: "
        f"**{capacity['real_time_streams_per_worker']}**.",
        "",
        "| listens | one Whisper call (s) | end of speech -> final p50 / p95 (s) | finals | real time |",
        "|---|---|---|---|---|",
    ]
    for run in capacity["runs"]:
        final = run["end_of_speech_to_final_s"]
        held = "yes" if run["real_time"] else "no"
        lines.append(
            f"| {run['streams']} | {run['whisper_call_s']} | {final.get('p50', '-')} / "
            f"{final.get('p95', '-')} | {run['finals']} | {held} |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(
    models: Annotated[list[str] | None, typer.Option(help="Whisper models to time, repeatable")] = None,
    rounds: Annotated[int, typer.Option(help="times the sentences are streamed per model")] = 2,
    streams: Annotated[list[int] | None, typer.Option(help="concurrent listens to try, in order")] = None,
    hold_final_s: Annotated[float, typer.Option(help="p95 end of speech -> final that is real time")] = 2.5,
    doc: Annotated[bool, typer.Option(help="write docs/realtime_listen.md")] = True,
) -> None:
    audio = script(SENTENCES)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    report: dict[str, Any] = {"latency": {}, "load_average_before": round(os.getloadavg()[0], 1)}
    for model in models or ["bundled:tiny.en", "bundled:base"]:
        report["latency"][model] = latency(model, rounds, audio)
        print(f"{model}: {json.dumps(report['latency'][model])}", flush=True)
    held, rows = capacity("bundled:tiny.en", streams or [1, 2, 3, 4, 6], audio, hold_final_s)
    report["capacity_tiny_en"] = {"real_time_streams_per_worker": held, "runs": rows}
    report["load_average_after"] = round(os.getloadavg()[0], 1)
    report["hold_final_s"] = hold_final_s
    print(json.dumps(report, indent=2))
    if doc:
        write_doc(report, DOC)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    typer.run(main)
