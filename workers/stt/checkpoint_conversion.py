"""Convert CTranslate2 (faster-whisper) Whisper weights into an openai-whisper ``.pt`` checkpoint.

No package registry ships openai-whisper checkpoints, but the bundled faster-whisper models hold the
same weights under other names. Layers map one to one except the attention projections, which
CTranslate2 stores fused (query+key+value for self-attention, key+value for cross-attention) and
openai-whisper keeps apart. The model dimensions follow from the tensor shapes.

The command line is ``python -m tools.convert_whisper bundled:tiny.en whisper-tiny.en.pt``.
"""

import base64
import gzip
import json
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# The layout ctranslate2.specs.model_spec.ModelSpec._serialize writes (CTranslate2 3.x and 4.x).
SUPPORTED_BINARY_VERSION = 6
# Order of the DataType enum in CTranslate2's include/ctranslate2/types.h.
_CT2_DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
# Whisper's attention heads are 64 wide in every released size; used only if num_heads is absent.
_WHISPER_HEAD_DIM = 64


class ConversionError(ValueError):
    """The input is not a CTranslate2 Whisper model this converter can translate."""


@dataclass(frozen=True)
class CT2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray]


class _Reader:
    """Sequential little-endian reads over the bytes of a ``model.bin``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from("<" + fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("H")  # includes the trailing NUL
        raw = self.data[self.pos : self.pos + length - 1]
        self.pos += length
        return raw.decode("utf-8")

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise ConversionError("model.bin is truncated")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk


def _to_array(raw: bytes, dtype_id: int, shape: tuple[int, ...]) -> np.ndarray:
    dtype = _CT2_DTYPES.get(dtype_id)
    if dtype is None:
        raise ConversionError(f"unknown CTranslate2 dtype id {dtype_id}")
    if dtype == "bfloat16":  # NumPy has no bfloat16: widen the 16 stored bits to float32
        widened = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return widened.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()


def read_ct2_model(model_bin: Path) -> CT2Model:
    """Every variable of a CTranslate2 ``model.bin``, aliases resolved to the arrays they name."""
    reader = _Reader(model_bin.read_bytes())
    try:
        version = reader.unpack("I")
        if version != SUPPORTED_BINARY_VERSION:
            raise ConversionError(
                f"{model_bin}: CTranslate2 binary version {version} (supported: {SUPPORTED_BINARY_VERSION})"
            )
        spec, revision = reader.string(), reader.unpack("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(reader.unpack("I")):
            name = reader.string()
            shape = tuple(reader.unpack("I") for _ in range(reader.unpack("B")))
            dtype_id, num_bytes = reader.unpack("B"), reader.unpack("I")
            variables[name] = _to_array(reader.take(num_bytes), dtype_id, shape)
        for _ in range(reader.unpack("I")):
            alias, target = reader.string(), reader.string()
            variables[alias] = variables[target]
    except struct.error as exc:
        raise ConversionError(f"{model_bin} is truncated or not a CTranslate2 model") from exc
    return CT2Model(spec=spec, revision=revision, variables=variables)


def _count_layers(variables: dict[str, np.ndarray], stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in variables if (m := pattern.match(name))}
    if not indices or indices != set(range(len(indices))):
        raise ConversionError(f"no contiguous {stack} layers found")
    return len(indices)


def _num_heads(variables: dict[str, np.ndarray], stack: str, width: int) -> int:
    stored = variables.get(f"{stack}/num_heads")
    return int(stored) if stored is not None else width // _WHISPER_HEAD_DIM


def infer_dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    """openai-whisper's ``ModelDimensions`` read off the tensor shapes."""
    conv1 = variables["encoder/conv1/weight"]  # (n_audio_state, n_mels, kernel)
    audio_positions = variables["encoder/position_encodings/encodings"]  # (n_audio_ctx, n_audio_state)
    embeddings = variables["decoder/embeddings/weight"]  # (n_vocab, n_text_state)
    text_positions = variables["decoder/position_encodings/encodings"]  # (n_text_ctx, n_text_state)
    n_audio_state, n_text_state = int(audio_positions.shape[1]), int(embeddings.shape[1])
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(audio_positions.shape[0]),
        "n_audio_state": n_audio_state,
        "n_audio_head": _num_heads(variables, "encoder", n_audio_state),
        "n_audio_layer": _count_layers(variables, "encoder"),
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(text_positions.shape[0]),
        "n_text_state": n_text_state,
        "n_text_head": _num_heads(variables, "decoder", n_text_state),
        "n_text_layer": _count_layers(variables, "decoder"),
    }


def split_fused_projection(
    weight: np.ndarray, bias: np.ndarray, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Split a fused (k·d, d) projection into k (d, d) ones; openai-whisper's key has no bias."""
    parts = len(names)
    if (
        weight.shape[0] % parts
        or weight.shape[0] // parts != weight.shape[1]
        or bias.shape[0] != weight.shape[0]
    ):
        raise ConversionError(f"fused projection of shape {weight.shape} does not split into {parts}")
    out: dict[str, np.ndarray] = {}
    for name, w, b in zip(names, np.split(weight, parts), np.split(bias, parts), strict=True):
        out[f"{name}.weight"] = w
        if name == "key":
            if np.any(b != 0):
                raise ConversionError("the key projection has a non-zero bias openai-whisper cannot hold")
        else:
            out[f"{name}.bias"] = b
    return out


def _linear(variables: dict[str, np.ndarray], source: str, target: str) -> dict[str, np.ndarray]:
    return {f"{target}.weight": variables[f"{source}/weight"], f"{target}.bias": variables[f"{source}/bias"]}


def _layer_norm(variables: dict[str, np.ndarray], source: str, target: str) -> dict[str, np.ndarray]:
    return {f"{target}.weight": variables[f"{source}/gamma"], f"{target}.bias": variables[f"{source}/beta"]}


def _prefixed(prefix: str, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}.{name}": value for name, value in tensors.items()}


def _block(variables: dict[str, np.ndarray], src: str, dst: str, *, cross: bool) -> dict[str, np.ndarray]:
    """One residual attention block: self-attention, optional cross-attention, MLP."""
    v = variables
    state = _prefixed(
        f"{dst}.attn",
        split_fused_projection(
            v[f"{src}/self_attention/linear_0/weight"],
            v[f"{src}/self_attention/linear_0/bias"],
            ("query", "key", "value"),
        ),
    )
    state |= _linear(v, f"{src}/self_attention/linear_1", f"{dst}.attn.out")
    state |= _layer_norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    if cross:
        state |= _linear(v, f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        state |= _prefixed(
            f"{dst}.cross_attn",
            split_fused_projection(
                v[f"{src}/attention/linear_1/weight"], v[f"{src}/attention/linear_1/bias"], ("key", "value")
            ),
        )
        state |= _linear(v, f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        state |= _layer_norm(v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
    state |= _linear(v, f"{src}/ffn/linear_0", f"{dst}.mlp.0")
    state |= _linear(v, f"{src}/ffn/linear_1", f"{dst}.mlp.2")
    state |= _layer_norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
    return state


def ct2_to_state_dict(variables: dict[str, np.ndarray], dims: dict[str, int]) -> dict[str, np.ndarray]:
    """openai-whisper ``Whisper.state_dict()`` entries from CTranslate2 variables."""
    v = variables
    state: dict[str, np.ndarray] = {
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
        "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
        "decoder.token_embedding.weight": v["decoder/embeddings/weight"],
    }
    state |= _linear(v, "encoder/conv1", "encoder.conv1")
    state |= _linear(v, "encoder/conv2", "encoder.conv2")
    state |= _layer_norm(v, "encoder/layer_norm", "encoder.ln_post")
    state |= _layer_norm(v, "decoder/layer_norm", "decoder.ln")
    for i in range(dims["n_audio_layer"]):
        state |= _block(v, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    for i in range(dims["n_text_layer"]):
        state |= _block(v, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    return state


def alignment_heads_dump(heads: list[list[int]], n_layer: int, n_head: int) -> str:
    """The base85(gzip(bool mask)) string ``Whisper.set_alignment_heads`` takes."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    # mtime=0: the same heads give the same string whenever they are written (no clock in it).
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def convert_ct2_to_openai_whisper(ct2_dir: Path, output: Path) -> Path:
    """Write ``output`` (``{"dims", "model_state_dict", "alignment_heads"}``) and return it.

    The weights keep their stored precision (float16 for the bundled models, like OpenAI's own
    checkpoints); ``whisper.load_model`` casts them into the model. The state dict is checked by
    loading it strictly into an openai-whisper model before anything is written. ``alignment_heads``
    (from ``config.json``) is an extra key ``load_model`` ignores: the backend applies it so word
    timestamps use the tuned heads instead of openai-whisper's generic default.
    """
    import torch
    import whisper.model

    model = read_ct2_model(ct2_dir / "model.bin")
    if model.spec != "WhisperSpec":
        raise ConversionError(f"{ct2_dir} holds a {model.spec}, not a Whisper model")
    if any(name.endswith("weight_scale") for name in model.variables):
        raise ConversionError(f"{ct2_dir} is int8-quantized; convert a float16/float32 CTranslate2 model")
    dims = infer_dims(model.variables)
    state = {
        name: torch.from_numpy(array) for name, array in ct2_to_state_dict(model.variables, dims).items()
    }
    whisper.model.Whisper(whisper.model.ModelDimensions(**dims)).load_state_dict(state, strict=True)

    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": state}
    config_file = ct2_dir / "config.json"
    if config_file.exists():
        heads = json.loads(config_file.read_text()).get("alignment_heads")
        if heads:
            checkpoint["alignment_heads"] = alignment_heads_dump(
                heads, dims["n_text_layer"], dims["n_text_head"]
            )

    output.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=output.parent, prefix=output.name, suffix=".partial")
    os.close(handle)
    try:
        torch.save(checkpoint, partial)
        os.chmod(partial, 0o644)  # mkstemp makes it private; a shared model cache must stay readable
        os.replace(partial, output)  # atomic: concurrent converters never expose half a file
    finally:
        Path(partial).unlink(missing_ok=True)
    return output
