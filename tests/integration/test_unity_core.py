"""The Unity package's pure C# core, compiled with Mono and run under NUnit against tracks the backend built.

Proves that the core compiles as C# 7 without UnityEngine, passes its own NUnit tests, and reads the
Python contract exactly: AnimationTrack JSON from ``build_animation_track`` and job JSON from the API's
own presenter, sampled to the same weights as the backend's reference sampler, every motion fired once.
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

from api.presenters import segment_out
from pipelines.settings import Settings
from schemas.animation import AnimationTrack
from schemas.jobs import JobOut, JobStatus, Stage
from tests.track_samples import contract_tracks, ready_segment_docs, reference_weights

PACKAGE = Path(__file__).resolve().parents[2] / "unity" / "com.vtuber.avatar-player"
APT_PACKAGES = (
    "mono-mcs nunit-console libnunit-framework2.6.3-cil libmono-system-runtime-serialization4.0-cil"
)
CONTRACT_TESTS = {
    "TracksBuiltByTheBackendValidateAndSampleLikeTheReference",
    "ARunningJobFromTheApiShowsWhatIsReady",
    "ACompletedJobFromTheApiPlaysThroughWithEveryMotionOnce",
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
        kind="text",
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


def test_every_imported_asset_has_a_unique_meta_file() -> None:
    """Unity ignores an asset without a .meta in an immutable (git or registry) package."""
    assets = [
        path
        for path in PACKAGE.rglob("*")
        if path.suffix != ".meta" and not any(part.endswith("~") for part in path.relative_to(PACKAGE).parts)
    ]
    guids = []
    for asset in assets:
        meta = asset.with_name(asset.name + ".meta")
        assert meta.exists(), f"{asset.relative_to(PACKAGE)} has no .meta"
        guids.append(
            next(line.split()[1] for line in meta.read_text().splitlines() if line.startswith("guid:"))
        )
    assert len(set(guids)) == len(guids), "duplicate guids"
    assert len(assets) > 15
