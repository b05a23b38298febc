"""The CTranslate2 -> openai-whisper converter, on the real bundled weights."""

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import whisper
from typer.testing import CliRunner

from pipelines.audio_codec import decode_to_16k_mono
from pipelines.settings import get_settings
from tools.convert_whisper import app
from workers.assets import whisper_model_dir
from workers.stt.checkpoint_conversion import (
    ConversionError,
    alignment_heads_dump,
    ct2_to_state_dict,
    infer_dims,
    read_ct2_model,
    split_fused_projection,
)
from workers.stt.faster_whisper_backend import FasterWhisperSTT
from workers.stt.openai_whisper_backend import OpenAIWhisperSTT, ensure_converted_checkpoint

TINY_EN_DIMS = {
    "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
    "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4,
}  # fmt: skip
BASE_DIMS = {
    "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 512, "n_audio_head": 8, "n_audio_layer": 6,
    "n_vocab": 51865, "n_text_ctx": 448, "n_text_state": 512, "n_text_head": 8, "n_text_layer": 6,
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_dir() -> Path:
    return Path(whisper_model_dir("bundled:tiny.en"))


@pytest.fixture(scope="module")
def tiny_vars(tiny_dir: Path) -> dict[str, np.ndarray]:
    return read_ct2_model(tiny_dir / "model.bin").variables


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny.en converted through the command-line tool, as an operator would."""
    output = tmp_path_factory.mktemp("ckpt") / "tiny.en.pt"
    result = CliRunner().invoke(app, ["bundled:tiny.en", str(output)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    return output


def test_reader_returns_named_float16_tensors_and_resolves_aliases(tiny_dir: Path) -> None:
    model = read_ct2_model(tiny_dir / "model.bin")
    assert (model.spec, model.revision) == ("WhisperSpec", 3)
    v = model.variables
    assert v["decoder/embeddings/weight"].dtype == np.float16
    assert v["decoder/projection/weight"] is v["decoder/embeddings/weight"]  # an alias in the file
    assert int(v["encoder/num_heads"]) == 6


def test_dims_are_inferred_from_tensor_shapes(tiny_vars: dict[str, np.ndarray]) -> None:
    assert infer_dims(tiny_vars) == TINY_EN_DIMS
    base = read_ct2_model(Path(whisper_model_dir("bundled:base")) / "model.bin").variables
    assert infer_dims(base) == BASE_DIMS
    without_heads = {k: v for k, v in base.items() if not k.endswith("num_heads")}
    assert infer_dims(without_heads) == BASE_DIMS  # falls back to 64-wide heads


def test_fused_projections_split_into_square_parts() -> None:
    d = 4
    weight = np.arange(3 * d * d, dtype=np.float32).reshape(3 * d, d)
    bias = np.concatenate([np.ones(d), np.zeros(d), np.full(d, 2.0)]).astype(np.float32)
    parts = split_fused_projection(weight, bias, ("query", "key", "value"))
    assert set(parts) == {"query.weight", "query.bias", "key.weight", "value.weight", "value.bias"}
    np.testing.assert_array_equal(parts["query.weight"], weight[:d])
    np.testing.assert_array_equal(parts["key.weight"], weight[d : 2 * d])
    np.testing.assert_array_equal(parts["value.weight"], weight[2 * d :])
    np.testing.assert_array_equal(parts["value.bias"], bias[2 * d :])
    with pytest.raises(ConversionError, match="non-zero bias"):
        split_fused_projection(weight, np.ones(3 * d, np.float32), ("query", "key", "value"))
    with pytest.raises(ConversionError, match="does not split"):
        split_fused_projection(weight[:-1], bias[:-1], ("query", "key", "value"))


def test_state_dict_matches_openai_whisper_layout(tiny_vars: dict[str, np.ndarray]) -> None:
    state = ct2_to_state_dict(tiny_vars, TINY_EN_DIMS)
    expected = whisper.model.Whisper(whisper.model.ModelDimensions(**TINY_EN_DIMS)).state_dict()
    assert set(state) == set(expected)
    for name, tensor in expected.items():
        assert tuple(state[name].shape) == tuple(tensor.shape), name
    fused = tiny_vars["decoder/layer_2/self_attention/linear_0/weight"]
    assert fused.shape == (3 * 384, 384)
    np.testing.assert_array_equal(state["decoder.blocks.2.attn.value.weight"], fused[768:])
    cross = tiny_vars["decoder/layer_2/attention/linear_1/weight"]
    assert cross.shape == (2 * 384, 384)
    np.testing.assert_array_equal(state["decoder.blocks.2.cross_attn.key.weight"], cross[:384])


def test_checkpoint_holds_dims_weights_and_alignment_heads(checkpoint: Path, tiny_dir: Path) -> None:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["dims"] == TINY_EN_DIMS
    assert saved["model_state_dict"]["decoder.token_embedding.weight"].dtype == torch.float16
    heads = json.loads((tiny_dir / "config.json").read_text())["alignment_heads"]
    assert saved["alignment_heads"] == alignment_heads_dump(heads, 4, 6)
    model = OpenAIWhisperSTT(get_settings(), str(checkpoint)).load()
    applied = model.alignment_heads.to_dense().nonzero().tolist()
    assert sorted(applied) == sorted(heads)


def test_converted_model_transcribes_like_faster_whisper(checkpoint: Path) -> None:
    """Same weights, same precision (float32), greedy decoding: same words and near-equal timings."""
    settings = get_settings().model_copy(update={"stt_compute_type": "float32", "stt_beam_size": 1})
    reference = FasterWhisperSTT(settings, "bundled:tiny.en")
    converted = OpenAIWhisperSTT(settings, str(checkpoint))
    for text in ("Please remember to buy milk, eggs and bread on your way home.",
                 "My favorite game is chess because every match feels different."):  # fmt: skip
        wav = subprocess.run(
            ["espeak-ng", "-v", "en-us", "--stdout", text], capture_output=True, check=True
        ).stdout
        audio = decode_to_16k_mono(wav)
        expected, got = reference.transcribe(audio), converted.transcribe(audio)
        assert got.text == expected.text
        want = [w.start for s in expected.segments for w in s.words]
        have = [w.start for s in got.segments for w in s.words]
        assert np.allclose(have, want, atol=0.06)


def test_bundled_checkpoint_is_converted_once_and_redone_when_stale(tmp_path: Path) -> None:
    first = ensure_converted_checkpoint("bundled:tiny.en", tmp_path)
    written = first.stat().st_mtime_ns
    assert ensure_converted_checkpoint("bundled:tiny.en", tmp_path) == first
    assert first.stat().st_mtime_ns == written  # reused, not rewritten
    stamp = first.with_name(first.name + ".stamp")
    stamp.write_text(stamp.read_text().replace('"converter": 1', '"converter": 0'))
    ensure_converted_checkpoint("bundled:tiny.en", tmp_path)
    assert first.stat().st_mtime_ns != written
    assert whisper.load_model(str(first), device="cpu").dims.n_text_layer == 4


def test_non_ct2_input_is_refused(tmp_path: Path) -> None:
    bad_version = tmp_path / "model.bin"
    bad_version.write_bytes(struct.pack("<I", 2) + b"\0" * 16)
    with pytest.raises(ConversionError, match="binary version 2"):
        read_ct2_model(bad_version)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(struct.pack("<I", 6) + struct.pack("<H", 12) + b"WhisperSpec\0" + b"\1")
    with pytest.raises(ConversionError, match="truncated"):
        read_ct2_model(truncated)
