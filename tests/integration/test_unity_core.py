"""The Unity package's pure C# core, compiled with Mono and run under NUnit against tracks the backend built.

Proves that the core compiles as C# 7 without UnityEngine, passes its own NUnit tests, and reads the
Python contract exactly: AnimationTrack JSON from ``build_animation_track`` and job JSON from the API's
own presenter, sampled to the same weights as the backend's reference sampler, every motion fired once;
and a job's SSE event stream built from real ``JobEvent`` JSON, followed to every segment playable in order.
"""

import glob
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.job_views import segment_out
from pipelines.settings import Settings
from schemas.animation import AnimationTrack
from schemas.avatar import AvatarCommand, ExpressionCommand, LookAtCommand, MotionCommand, ResetCommand
from schemas.emotion import Emotion
from schemas.events import EventType, JobEvent
from schemas.jobs import Interruption, JobKind, JobOut, JobStatus, Reply, SegmentOut, Stage
from schemas.transcription import Transcript
from tests.track_samples import contract_tracks, ready_segment_docs, reference_weights

PACKAGE = Path(__file__).resolve().parents[2] / "unity" / "com.vtuber.avatar-player"
APT_PACKAGES = (
    "mono-mcs nunit-console libnunit-framework2.6.3-cil libmono-system-runtime-serialization4.0-cil"
)
CONTRACT_TESTS = {
    "TracksBuiltByTheBackendValidateAndSampleLikeTheReference",
    "ARunningJobFromTheApiShowsWhatIsReady",
    "ACompletedJobFromTheApiPlaysThroughWithEveryMotionOnce",
    "AnEventStreamFromTheBackendPlaysEverySegmentInOrder",
    "PolledJobViewsFromTheApiFoldIntoTheSameTurn",
    "ASessionChannelFromTheBackendPlaysEveryTurnAndCommandInOrder",
    "AReconnectWithTheLastIdMissesNothingAndRepeatsNothing",
    # The same fixtures read the way Unity's JsonUtility reads them (nested objects never null).
    "AnEventStreamParsedTheJsonUtilityWayPlaysTheSame",
    "PolledJobViewsParsedTheJsonUtilityWayFoldTheSame",
    "ASessionChannelParsedTheJsonUtilityWayPlaysTheSame",
}


def nunit_framework() -> Path | None:
    found = sorted(glob.glob("/usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll"))
    return Path(found[-1]) if found else None


def missing_toolchain() -> str | None:
    """Why the C# side cannot run here, or None."""
    missing = [tool for tool in ("mcs", "mono", "nunit-console") if shutil.which(tool) is None]
    if nunit_framework() is None:
        missing.append("nunit.framework.dll")
    if not Path("/usr/lib/mono/4.5/System.Runtime.Serialization.dll").exists():
        missing.append("System.Runtime.Serialization.dll")
    if missing:
        return f"{', '.join(missing)} not found: apt-get install -y --no-install-recommends {APT_PACKAGES}"
    return None


def expectations(track: AnimationTrack, track_file: str) -> dict[str, Any]:
    """The backend's reference weights at frame times, at every keyframe and between keyframes."""
    samples, blinks = reference_weights(track, fps=30, curve_key="name")
    return {
        "track": track_file,
        "samples": samples,
        "blinks": blinks,
        "motions": [motion.model_dump() for motion in track.motions],
    }


def job_json(tracks: list[AnimationTrack], status: JobStatus) -> str:
    """A job as GET /v1/jobs/{id} returns it, through the API's own segment presenter."""
    settings = Settings()
    docs = ready_segment_docs(tracks)
    if status == JobStatus.running:  # the last sentence is still being synthesized
        docs[-1] = {
            "index": docs[-1]["index"],
            "text": docs[-1]["text"],
            "emotion": "neutral",
            "ready": False,
        }
    now = datetime.now(UTC)
    job = JobOut(
        id="job1",
        session_id="session1",
        kind=JobKind.text,
        status=status,
        stage=Stage.tts if status == JobStatus.running else None,
        persona="default",
        persona_version="1",
        input_text="Hello!",
        segments=[segment_out(settings, doc) for doc in docs],
        segments_total=len(docs) if status == JobStatus.completed else None,
        created_at=now,
        updated_at=now,
    )
    return job.model_dump_json()


def sse_message(entry_id: str, event: JobEvent) -> str:
    """One message as GET /v1/jobs/{id}/events frames it (the server leaves null fields out)."""
    return f"id: {entry_id}\nevent: {event.type.value}\ndata: {event.model_dump_json(exclude_none=True)}\n\n"


def job_event_stream(tracks: list[AnimationTrack]) -> tuple[bytes, dict[str, Any]]:
    """A spoken turn's SSE stream, and what a client must end up with.

    The first LLM attempt dies after announcing one segment's audio; the second attempt's segments
    interleave (segment 0's track comes last) between keep-alive pings. Texts are non-ASCII, so chunk
    splits land inside UTF-8 characters.
    """
    settings = Settings()
    now = datetime.now(UTC)
    docs = ready_segment_docs(tracks)
    for doc in docs:
        doc["text"] = f"Sentence {doc['index']}: grüß dich — 🎉"

    def event(type_: EventType, **fields: Any) -> JobEvent:
        return JobEvent(type=type_, job_id="job1", session_id="session1", at=now, **fields)

    def segment(doc: dict[str, Any], step: EventType) -> SegmentOut:
        if step == EventType.segment_queued:
            doc = {key: doc[key] for key in ("index", "text", "emotion", "motions")}
        elif step == EventType.segment_audio_ready:
            doc = {**doc, "animation": None, "ready": False}
        return segment_out(settings, doc)

    stale = {**docs[0], "audio_id": "stale0"}
    events = [
        event(EventType.job_queued),
        event(EventType.stage_started, stage=Stage.stt),
        event(EventType.stage_finished, stage=Stage.stt, seconds=0.4),
        event(EventType.transcript_ready, transcript=Transcript(text="Hi, can you wave?", language="en")),
        event(EventType.stage_started, stage=Stage.llm, attempt=1),
        event(EventType.segment_queued, attempt=1, segment=segment(stale, EventType.segment_queued)),
        event(
            EventType.segment_audio_ready, attempt=1, segment=segment(stale, EventType.segment_audio_ready)
        ),
        event(EventType.stage_started, stage=Stage.llm, attempt=2),
    ]
    steps = (EventType.segment_queued, EventType.segment_audio_ready, EventType.segment_animation_ready)
    timeline = sorted(
        (2 * len(docs) if index == 0 and step == steps[2] else 2 * index + offset, index, step)
        for index in range(len(docs))
        for offset, step in zip((0, 1, 3), steps, strict=True)
    )
    events += [event(step, attempt=2, segment=segment(docs[index], step)) for _, index, step in timeline]
    reply = Reply(
        text=" ".join(doc["text"] for doc in docs),
        emotion="happy",
        motions=[name for doc in docs for name in doc["motions"]],
        done=True,
    )
    events += [
        event(EventType.stage_finished, stage=Stage.llm, seconds=1.5, reply=reply, segments_total=len(docs)),
        event(EventType.job_completed, reply=reply, segments_total=len(docs)),
    ]
    text, ids = "retry: 3000\n\n", []
    for number, item in enumerate(events):
        ids.append(f"{1732834323123 + number // 3}-{number % 3}")
        text += sse_message(ids[-1], item)
        if number % 4 == 3:
            text += ": ping - 2026-11-28 10:00:00.000000+00:00\n\n"
    expected = {
        "messages": len(events),
        "last_event_id": ids[-1],
        "retry_ms": 3000,
        "stale_audio_url": segment(stale, EventType.segment_audio_ready).audio_url,
        "audio_urls": [segment_out(settings, doc).audio_url for doc in docs],
        "texts": [doc["text"] for doc in docs],
        "motions": reply.motions,
    }
    return text.encode(), expected


def channel_frame(entry_id: str, event: JobEvent, type_: str | None = None) -> str:
    """One WS /v1/sessions/{id}/ws text frame: data is the event as stored (null fields left out)."""
    data = json.loads(event.model_dump_json(exclude_none=True))
    if type_ is not None:  # an event type added after this client
        data["type"] = type_
    return json.dumps({"id": entry_id, "event": type_ or event.type.value, "data": data})


def command_line(command: AvatarCommand, default_fade_s: float) -> str:
    """How Tests/Editor/SessionRecorder.cs logs the command once SessionPlayer has applied it."""
    if isinstance(command, ExpressionCommand):
        fade = default_fade_s if command.fade_s is None else command.fade_s
        shown = f"{command.expression.value} {command.weight:g} for {command.duration_s:g}"
        return f"expression {shown} fade {fade:g}"
    if isinstance(command, MotionCommand):
        return f"motion {command.motion}"
    if isinstance(command, LookAtCommand):
        return f"look at {command.x:g} {command.y:g} {command.z:g}"
    return "reset"


def session_channel(tracks: list[AnimationTrack]) -> tuple[str, dict[str, Any]]:
    """A session's WS frames (one per line) and what an avatar client must make of them.

    Turn A (a chat reply) and turn B (a verbatim line) interleave, A's tracks come after its audio; manual
    commands come between and during turns; turn C is interrupted after its first segment; turn D follows.
    Keep-alive pings and an event type this client does not know are mixed in.
    """
    settings = Settings()
    now = datetime.now(UTC)
    default_fade_s = 0.3  # SessionPlayer.DefaultFadeS

    def event(job: str, type_: EventType, **fields: Any) -> JobEvent:
        return JobEvent(type=type_, job_id=job, session_id="session1", at=now, **fields)

    def docs(job: str, count: int) -> list[dict[str, Any]]:
        made = ready_segment_docs(tracks[:count])
        for doc in made:
            doc["audio_id"] = f"{job}-audio{doc['index']}"
        return made

    def segment(job: str, doc: dict[str, Any], type_: EventType, **fields: Any) -> JobEvent:
        if type_ == EventType.segment_queued:
            doc = {key: doc[key] for key in ("index", "text", "emotion", "motions")}
        elif type_ == EventType.segment_audio_ready:
            doc = {**doc, "animation": None, "ready": False}
        return event(job, type_, segment=segment_out(settings, doc), **fields)

    def segment_steps(job: str, doc: dict[str, Any], **fields: Any) -> list[JobEvent]:
        steps = (EventType.segment_queued, EventType.segment_audio_ready, EventType.segment_animation_ready)
        return [segment(job, doc, step, **fields) for step in steps]

    def command(job: str, avatar_command: AvatarCommand) -> list[JobEvent]:
        announced = event(job, EventType.avatar_command, command=avatar_command)
        return [announced, event(job, EventType.job_completed)]

    a, b, c, d = docs("jobA", 2), docs("jobB", 1), docs("jobC", 2), docs("jobD", 1)
    commands: list[AvatarCommand] = [
        ExpressionCommand(expression=Emotion.happy, weight=0.8, duration_s=1.5),
        MotionCommand(motion="wave"),
        LookAtCommand(x=-0.4, y=1.45, z=1.2),
        ExpressionCommand(expression=Emotion.sad, weight=0.5, duration_s=3.0, fade_s=0.25),
        ResetCommand(),
    ]
    reply = Reply(text="Sentence 0. Sentence 1.", emotion="happy", motions=["wave", "nod"], done=True)
    unknown = event("jobA", EventType.stage_started, stage=Stage.llm)  # re-typed: one the client lacks
    interruption = Interruption(at=now, by="utterance", heard_text="Sentence 0.", heard_segments=1)
    items: list[JobEvent | None] = [  # None: a keep-alive ping
        None,
        event("jobA", EventType.job_queued),
        event("jobA", EventType.stage_started, stage=Stage.llm, attempt=1),
        segment("jobA", a[0], EventType.segment_queued, attempt=1),
        segment("jobA", a[0], EventType.segment_audio_ready, attempt=1),
        *command("cmd1", commands[0]),
        event("jobB", EventType.job_queued),
        segment("jobA", a[1], EventType.segment_queued, attempt=1),
        segment("jobA", a[1], EventType.segment_audio_ready, attempt=1),
        *segment_steps("jobB", b[0]),
        segment("jobA", a[0], EventType.segment_animation_ready, attempt=1),
        unknown,
        None,
        segment("jobA", a[1], EventType.segment_animation_ready, attempt=1),
        event("jobA", EventType.stage_finished, stage=Stage.llm, seconds=1.2, reply=reply, segments_total=2),
        event("jobA", EventType.job_completed, reply=reply, segments_total=2),
        event("jobB", EventType.job_completed, segments_total=1),
        *command("cmd2", commands[1]),
        *command("cmd3", commands[2]),
        event("jobC", EventType.job_queued),
        event("jobC", EventType.stage_started, stage=Stage.llm, attempt=1),
        *segment_steps("jobC", c[0], attempt=1),
        None,
        segment("jobC", c[1], EventType.segment_queued, attempt=1),
        segment("jobC", c[1], EventType.segment_audio_ready, attempt=1),
        *command("cmd4", commands[3]),
        event("jobC", EventType.job_interrupted, interruption=interruption),
        *command("cmd5", commands[4]),
        event("jobD", EventType.job_queued),
        *segment_steps("jobD", d[0]),
        event("jobD", EventType.job_completed, segments_total=1),
    ]
    lines, ids = [], []
    for number, item in enumerate(items):
        if item is None:
            lines.append('{"event": "ping"}')  # as api/routes/session_channel.py sends it
            continue
        ids.append(f"{1764392400000 + number // 4}-{number % 4}")  # Redis stream ids: several per millisecond
        lines.append(channel_frame(ids[-1], item, "viewer.cheered" if item is unknown else None))
    reconnect_after = 16  # the connection drops after this many events (mid-turn, before A's last track)
    outcome = {
        "frames": len(lines),
        "events": len(ids),
        "pings": items.count(None),
        "last_id": ids[-1],
        "resume_id": ids[reconnect_after - 1],
        "heard": [segment_out(settings, doc).audio_url for doc in (*a, *b, d[0])],
        "interrupted_audio": [segment_out(settings, doc).audio_url for doc in c],
        "commands": [command_line(item, default_fade_s) for item in commands],
    }
    return "\n".join(lines) + "\n", outcome


@pytest.fixture(scope="module")
def contract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("contract")
    tracks = contract_tracks()
    assert sum(len(track.blinks) for track in tracks.values()) > 0, "no blink to check"
    for name, track in tracks.items():
        (directory / f"{name}.track.json").write_text(track.model_dump_json())
        expected = expectations(track, f"{name}.track.json")
        (directory / f"{name}.expected.json").write_text(json.dumps(expected))
    (directory / "job-completed.json").write_text(job_json(list(tracks.values()), JobStatus.completed))
    (directory / "job-running.json").write_text(job_json(list(tracks.values())[:2], JobStatus.running))
    stream, outcome = job_event_stream(list(tracks.values()))
    (directory / "job-events.sse").write_bytes(stream)
    # Not *.expected.json: those name tracks to check.
    (directory / "job-events-outcome.json").write_text(json.dumps(outcome))
    frames, channel_outcome = session_channel(list(tracks.values()))
    (directory / "session-channel.jsonl").write_text(frames, encoding="utf-8")
    (directory / "session-channel-outcome.json").write_text(json.dumps(channel_outcome))
    return directory


def compile_library(out: Path, sources: Path, references: list[str]) -> None:
    command = ["mcs", "-langversion:7", "-warnaserror", "-target:library", f"-out:{out}"]
    command += [f"-r:{reference}" for reference in references]
    command += sorted(str(path) for path in sources.rglob("*.cs"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"mcs failed for {sources}:\n{result.stdout}{result.stderr}")


@pytest.fixture(scope="module")
def nunit_results(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> ET.Element:
    reason = missing_toolchain()
    if reason:
        pytest.skip(reason)
    contract_dir: Path = request.getfixturevalue("contract_dir")
    framework = nunit_framework()
    assert framework is not None
    build = tmp_path_factory.mktemp("build")
    core, tests = build / "VTuber.Animation.dll", build / "VTuber.Animation.Tests.dll"
    # Only the system libraries are referenced: a UnityEngine type in the core fails to compile.
    compile_library(core, PACKAGE / "Runtime" / "Core", [])
    compile_library(tests, PACKAGE / "Tests", [str(core), str(framework), "System.Runtime.Serialization.dll"])
    result_xml = build / "TestResult.xml"
    run = subprocess.run(
        ["nunit-console", "-nologo", "-noshadow", f"-xml={result_xml}", str(tests)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=build,
        env={**os.environ, "VTUBER_CONTRACT_FIXTURES": str(contract_dir)},
    )
    if not result_xml.exists():
        pytest.fail(f"nunit-console wrote no results (exit {run.returncode}):\n{run.stdout}{run.stderr}")
    root = ET.parse(result_xml).getroot()
    root.set("console", run.stdout[-6000:])
    return root


def test_every_nunit_test_passes(nunit_results: ET.Element) -> None:
    counts = {key: int(nunit_results.get(key, "-1")) for key in ("total", "errors", "failures", "not-run")}
    assert counts["total"] >= 40, counts
    assert counts["errors"] == counts["failures"] == counts["not-run"] == 0, nunit_results.get("console")


def test_the_backend_contract_was_checked_not_ignored(nunit_results: ET.Element) -> None:
    cases = {case.get("name", "").rsplit(".", 1)[-1]: case for case in nunit_results.iter("test-case")}
    for name in CONTRACT_TESTS:
        assert name in cases, f"{name} did not run"
        assert cases[name].get("executed") == "True" and cases[name].get("success") == "True", name


def test_package_manifest_and_assemblies() -> None:
    """UPM metadata and the split into a Unity-free core, the Unity scripts and editor tests."""
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["name"] == "com.vtuber.avatar-player"
    assert manifest["version"].count(".") == 2
    core = json.loads((PACKAGE / "Runtime/Core/VTuber.Animation.asmdef").read_text())
    player = json.loads((PACKAGE / "Runtime/Unity/VTuber.AvatarPlayer.asmdef").read_text())
    tests = json.loads((PACKAGE / "Tests/Editor/VTuber.Animation.Tests.asmdef").read_text())
    assert core["name"] == "VTuber.Animation" and core["noEngineReferences"] is True
    assert "VTuber.Animation" in player["references"]
    assert (
        tests["references"][0] == "VTuber.Animation"
        and "nunit.framework.dll" in tests["precompiledReferences"]
    )
    for source in (PACKAGE / "Runtime/Core").rglob("*.cs"):
        assert "UnityEngine" not in source.read_text(), source
