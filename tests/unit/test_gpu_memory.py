"""GPU memory through NVML: a fake of the NVML binding's calls (there is no GPU or driver here),
and the real binding on this machine, which must report nothing and fail nothing."""

import os
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from workers import gpu_memory
from workers.stage_metrics import record_gpu_memory

GIB = 2**30


@dataclass
class MemoryInfo:  # the fields of pynvml's c_nvmlMemory_t the code reads
    total: int
    free: int
    used: int


class NVMLError(Exception):
    pass


def fake_nvml(
    devices: list[MemoryInfo], *, init_fails: bool = False, read_fails: bool = False
) -> types.ModuleType:
    """The calls workers/gpu_memory.py makes, with the real binding's names and shapes."""
    module = types.ModuleType("pynvml")

    def init() -> None:
        if init_fails:
            raise NVMLError("NVML Shared Library Not Found")

    def memory_info(handle: int) -> MemoryInfo:
        if read_fails:
            raise NVMLError("GPU is lost")
        return devices[handle]

    module.NVMLError = NVMLError  # type: ignore[attr-defined]
    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(devices)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda index: index  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = memory_info  # type: ignore[attr-defined]
    return module


@pytest.fixture(autouse=True)
def fresh_nvml() -> Iterator[None]:
    gpu_memory._nvml.cache_clear()
    yield
    gpu_memory._nvml.cache_clear()


def test_every_device_is_reported_with_its_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    cards = [MemoryInfo(total=24 * GIB, free=20 * GIB, used=4 * GIB), MemoryInfo(16 * GIB, 15 * GIB, GIB)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(cards))
    assert gpu_memory.device_memory() == [
        gpu_memory.DeviceMemory("cuda:0", 4 * GIB, 24 * GIB),
        gpu_memory.DeviceMemory("cuda:1", GIB, 16 * GIB),
    ]
    record_gpu_memory()
    used = REGISTRY.get_sample_value("vtuber_gpu_device_memory_used_bytes", {"device": "cuda:1"})
    total = REGISTRY.get_sample_value("vtuber_gpu_device_memory_total_bytes", {"device": "cuda:0"})
    assert used == GIB and total == 24 * GIB


@pytest.mark.parametrize("failure", ["init_fails", "read_fails"])
def test_no_driver_or_a_lost_device_reports_nothing(monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    cards = [MemoryInfo(total=GIB, free=GIB, used=0)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(cards, **{failure: True}))
    assert gpu_memory.device_memory() == []
    record_gpu_memory()  # and a stage run's metrics still finish


def test_the_real_binding_on_a_machine_without_a_gpu_reports_nothing() -> None:
    pytest.importorskip("pynvml")
    if any(os.path.exists(f"/dev/nvidia{i}") for i in range(8)):
        pytest.skip("this machine has a GPU")
    assert gpu_memory.device_memory() == []
