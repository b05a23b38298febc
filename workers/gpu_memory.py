"""GPU memory as NVML sees it: whatever runtime holds it (CTranslate2, onnxruntime, llama.cpp,
torch), which torch's own counters cannot see.

NVML (``nvidia-ml-py``, a ctypes binding of the driver's libnvidia-ml) answers per device. Per
process it would report host PIDs, which a containerised worker cannot match with its own, so the
device totals are reported; a pool pinned to its GPUs (compose, Kubernetes) reads them as its own.
Without the package, a driver or a GPU, nothing is reported and nothing fails.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class DeviceMemory:
    device: str  # "cuda:<NVML index>"
    used_bytes: int
    total_bytes: int


@cache
def _nvml() -> Any | None:
    """The initialised NVML module, once per process; None where there is no NVIDIA driver."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver library, no device, insufficient permissions
        return None
    return pynvml


def device_memory() -> list[DeviceMemory]:
    """Memory used and installed on each GPU this process can see; [] without NVML."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        devices = []
        for index in range(nvml.nvmlDeviceGetCount()):
            info = nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(index))
            devices.append(DeviceMemory(f"cuda:{index}", int(info.used), int(info.total)))
        return devices
    except nvml.NVMLError:  # a device fell off the bus or the driver restarted: skip this reading
        return []
