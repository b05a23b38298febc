"""The Unity package as Unity's Package Manager receives it, and its Unity layer compiled outside Unity.

A package installed from git is immutable: Unity skips any asset without a ``.meta`` file, a sample whose
folder is missing cannot be imported, and a built-in module a project disabled is not re-enabled unless the
manifest lists it. These checks read the package the way Unity will. The Unity layer (``Runtime/Unity``, both
samples) needs UnityEngine and UniVRM, which do not exist here: it is compiled with Mono against stubs of the
exact signatures it calls (``tests/integration/unity_stubs``), in each configuration its define symbols allow.
"""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "unity" / "com.vtuber.avatar-player"
STUBS = Path(__file__).resolve().parent / "unity_stubs"
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
GUID = re.compile(r"^guid: ([0-9a-f]{32})$", re.MULTILINE)

# What in a script needs which built-in module (Packages/manifest.json "com.unity.modules.*").
MODULE_USES = {
    "com.unity.modules.unitywebrequest": re.compile(r"using UnityEngine\.Networking;|\bUnityWebRequest\b"),
    "com.unity.modules.unitywebrequestaudio": re.compile(
        r"\bUnityWebRequestMultimedia\b|\bDownloadHandlerAudioClip\b"
    ),
    "com.unity.modules.audio": re.compile(r"\bAudio(Source|Clip|Settings|Type)\b"),
    "com.unity.modules.jsonserialize": re.compile(r"\bJsonUtility\b"),
    "com.unity.modules.animation": re.compile(r"\bAnimator(ControllerParameter)?\b"),
    "com.unity.modules.imgui": re.compile(r"\bGUI(Style|Skin)?\.|\bnew GUIStyle\b|\bOnGUI\b"),
}
# UnityEngine namespaces and the module each needs; None: the core module, always there.
ENGINE_NAMESPACES = {
    "UnityEngine": None,
    "UnityEngine.Events": None,
    "UnityEngine.Networking": "com.unity.modules.unitywebrequest",
}


def manifest() -> dict:
    return json.loads((PACKAGE / "package.json").read_text())


def scripts(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PACKAGE / folder).rglob("*.cs"))


def make_meta() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_meta", PACKAGE.parent / "make_meta.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_manifest_is_valid_and_every_sample_it_declares_is_there() -> None:
    data = manifest()
    assert data["name"] == "com.vtuber.avatar-player"
    assert SEMVER.match(data["version"]), data["version"]
    assert re.match(r"^\d{4}\.\d$", data["unity"]), data["unity"]
    assert data["license"] == "MIT"
    assert all(SEMVER.match(version) for version in data["dependencies"].values())
    samples = data["samples"]
    assert {sample["path"] for sample in samples} == {"Samples~/TalkingAvatar", "Samples~/SessionAvatar"}
    assert len({sample["displayName"] for sample in samples}) == len(samples)
    assembly_names = []
    for sample in samples:
        folder = PACKAGE / sample["path"]
        assert folder.is_dir(), sample["path"]
        assert sample["description"].strip(), sample
        assert (folder / "README.md").is_file(), f"{sample['path']} has no README"
        assert list(folder.glob("*.cs")), f"{sample['path']} has no script"
        (asmdef,) = folder.glob("*.asmdef")
        assembly_names.append(json.loads(asmdef.read_text())["name"])
    # Both samples can be imported into one project: their assemblies need different names.
    assert len(set(assembly_names)) == len(assembly_names), assembly_names
    # Every sample folder on disk is declared (one forgotten in package.json cannot be imported).
    on_disk = {f"Samples~/{path.name}" for path in (PACKAGE / "Samples~").iterdir()}
    assert on_disk == {sample["path"] for sample in samples}


def test_documentation_license_and_readme_ship_with_it() -> None:
    guide = (PACKAGE / "Documentation~" / "index.md").read_text()
    for topic in ("Install", "Keys", "Job-following", "Session channel", "Audio", "UpdateType", ".vrma"):
        assert topic in guide, f"the guide says nothing about {topic}"
    license_text = (PACKAGE / "LICENSE.md").read_text()
    assert license_text.startswith("MIT License") and "Permission is hereby granted" in license_text
    readme = (PACKAGE / "README.md").read_text()
    assert "Documentation~/index.md" in readme and "LICENSE.md" in readme
    for sample in manifest()["samples"]:
        assert sample["path"] in readme, f"the README does not describe {sample['path']}"
        for script in (PACKAGE / sample["path"]).glob("*.cs"):
            assert script.name in readme, f"the README does not name {script.name}"


def test_every_asset_and_sample_file_has_its_own_generated_meta() -> None:
    """Unity skips an asset without a .meta in a git package; a sample's files keep GUIDs only with theirs."""
    generator = make_meta()
    needed: list[Path] = []
    guids: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*")):
        parts = path.relative_to(PACKAGE).parts
        if path.suffix == ".meta":
            asset = path.with_name(path.name[: -len(".meta")])
            assert asset.exists(), f"{path.relative_to(PACKAGE)} belongs to no asset"
            continue
        in_sample = parts[0] == "Samples~" and len(parts) > 2
        if not in_sample and any(part.endswith("~") for part in parts):
            continue  # Documentation~, Samples~ and the sample folders themselves: Unity never imports them
        needed.append(path)
    assert any("Samples~" in path.parts for path in needed), "no sample file was checked"
    for asset in needed:
        meta = asset.with_name(asset.name + ".meta")
        relative = asset.relative_to(PACKAGE)
        assert meta.is_file(), f"{relative} has no .meta (run python unity/make_meta.py)"
        text = meta.read_text()
        found = GUID.search(text)
        assert found, f"{relative}.meta has no guid"
        assert found.group(1) not in guids, f"{relative} and {guids.get(found.group(1))} share a guid"
        guids[found.group(1)] = relative
        assert text == generator.meta_text(asset), f"{relative}.meta differs from what make_meta.py writes"
    for hidden in (PACKAGE / "Documentation~", PACKAGE / "Samples~"):
        assert not hidden.with_name(hidden.name + ".meta").exists()
    assert not list((PACKAGE / "Documentation~").rglob("*.meta"))


def test_declared_modules_cover_every_engine_api_the_scripts_use() -> None:
    declared = set(manifest()["dependencies"])
    sources = {path: path.read_text() for path in scripts("Runtime", "Samples~")}
    used: dict[str, list[str]] = {}
    for path, text in sources.items():
        for namespace in re.findall(r"^using (UnityEngine(?:\.\w+)*);", text, re.MULTILINE):
            assert namespace in ENGINE_NAMESPACES, f"{path.name} uses {namespace}: map it to its module here"
            module = ENGINE_NAMESPACES[namespace]
            if module:
                used.setdefault(module, []).append(path.name)
        for module, pattern in MODULE_USES.items():
            if pattern.search(text):
                used.setdefault(module, []).append(path.name)
    missing = {module: files for module, files in used.items() if module not in declared}
    assert not missing, f"package.json lacks the built-in modules {missing}"
    assert declared <= set(used), f"declared but unused: {declared - set(used)}"
    # The brief's four, whatever the patterns above say.
    assert {
        "com.unity.modules.audio",
        "com.unity.modules.unitywebrequest",
        "com.unity.modules.unitywebrequestaudio",
        "com.unity.modules.jsonserialize",
    } <= declared


def test_every_univrm_symbol_is_defined_by_a_version_define() -> None:
    """`#if VTUBER_*` code compiles only where an assembly definition defines its symbol for UniVRM."""
    defines: dict[str, str] = {}
    for asmdef in PACKAGE.rglob("*.asmdef"):
        for version_define in json.loads(asmdef.read_text()).get("versionDefines", []):
            assert version_define["name"] == "com.vrmc.vrm", asmdef
            defines[version_define["define"]] = version_define["expression"]
    assert defines == {"VTUBER_UNIVRM10": "0.114.0", "VTUBER_UNIVRM10_VRMA": "0.131.0"}
    for path in scripts("Runtime", "Samples~"):
        for symbol in re.findall(r"#if .*?\b(VTUBER_\w+)", path.read_text()):
            assert symbol in defines, f"{path.name}: {symbol} is never defined"
    runtime = json.loads((PACKAGE / "Runtime/Unity/VTuber.AvatarPlayer.asmdef").read_text())
    assert {d["define"] for d in runtime["versionDefines"]} == set(defines)


def compile_assembly(out: Path, sources: list[Path], references: list[Path], *options: str) -> None:
    command = ["mcs", "-warnaserror", "-target:library", f"-out:{out}", *options]
    command += [f"-r:{reference}" for reference in references]
    command += [str(source) for source in sources]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"mcs failed for {out.name}:\n{result.stdout}{result.stderr}")


def test_the_unity_layer_and_samples_compile_against_unity_and_univrm_signatures(tmp_path: Path) -> None:
    """Without UniVRM, with 0.114+ and with 0.131+: the same files, as their define symbols select them."""
    if shutil.which("mcs") is None:
        pytest.skip("mcs not found: apt-get install -y --no-install-recommends mono-mcs")
    engine, vrm = tmp_path / "UnityEngine.dll", tmp_path / "VRM10.dll"
    core = tmp_path / "VTuber.Animation.dll"
    compile_assembly(engine, [STUBS / "UnityEngine.cs"], [], "-langversion:7", "-nowarn:0660,0661")
    compile_assembly(vrm, [STUBS / "UniVRM10.cs"], [engine], "-langversion:7.2")  # UniVRM's readonly struct
    compile_assembly(core, scripts("Runtime/Core"), [], "-langversion:7")
    unity_layer = scripts("Runtime/Unity")
    configurations = {
        "none": [],
        "univrm": ["-d:VTUBER_UNIVRM10"],
        "vrma": ["-d:VTUBER_UNIVRM10", "-d:VTUBER_UNIVRM10_VRMA"],
    }
    for name, defines in configurations.items():
        player = tmp_path / name / "VTuber.AvatarPlayer.dll"
        player.parent.mkdir()
        references = [engine, core] + ([vrm] if defines else [])
        compile_assembly(player, unity_layer, references, "-langversion:7", *defines)
        bridged = b"VrmAnimationFaceBridge" in player.read_bytes()
        assert bridged == (name == "vrma"), f"{name}: the .vrma bridge is compiled in only with UniVRM 0.131+"
        if not defines:
            continue
        for sample in manifest()["samples"]:
            folder = PACKAGE / sample["path"]
            out = tmp_path / name / f"{folder.name}.dll"
            sample_references = [engine, vrm, core, player]
            compile_assembly(out, sorted(folder.glob("*.cs")), sample_references, "-langversion:7", *defines)
