"""Pick the compute device: the GPU where one is present, the CPU otherwise.

Each runtime asks its own library (CTranslate2, torch, llama.cpp), so a worker image without torch
still detects CUDA correctly for faster-whisper.
"""

from typing import Literal

Device = Literal["cpu", "cuda"]


def ctranslate2_device(requested: str = "auto") -> Device:
    if requested in ("cpu", "cuda"):
        return requested  # type: ignore[return-value]
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:
        return "cpu"


def ctranslate2_compute_type(device: Device, requested: str = "auto") -> str:
    """int8 on CPU (fast, small), float16 on GPU."""
    if requested != "auto":
        return requested
    return "float16" if device == "cuda" else "int8"


def torch_device(requested: str = "auto") -> Device:
    if requested in ("cpu", "cuda"):
        return requested  # type: ignore[return-value]
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:
        return "cpu"


def llama_gpu_layers(requested: str = "auto") -> int:
    """Offload every layer when llama.cpp was built with GPU support, none otherwise."""
    if requested == "cpu":
        return 0
    try:
        import llama_cpp

        return -1 if llama_cpp.llama_supports_gpu_offload() else 0
    except Exception:
        return 0


def onnxruntime_providers(requested: str = "auto") -> list[str]:
    """Execution providers for an onnxruntime session (Piper): CUDA first where onnxruntime-gpu
    offers it (``cuda`` asks for it regardless, and onnxruntime warns when it falls back), the CPU last."""
    cpu = ["CPUExecutionProvider"]
    if requested == "cpu":
        return cpu
    if requested == "cuda":
        return ["CUDAExecutionProvider", *cpu]
    try:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    except Exception:
        return cpu
    return ["CUDAExecutionProvider", *cpu] if "CUDAExecutionProvider" in available else cpu


def gpu_available() -> bool:
    return ctranslate2_device() == "cuda"
