"""The control panel's STT toggle: send new speech work to the GPU pool, the CPU pool, or auto.

The mode lives in Redis so every API replica sees the same switch. GPU STT workers announce
themselves with a short-lived heartbeat key; ``auto`` uses the GPU pool only while one is alive.
"""

from enum import StrEnum

import redis

MODE_KEY = "control:stt:mode"
GPU_HEARTBEAT_PREFIX = "control:stt:gpu-worker:"
HEARTBEAT_TTL_S = 30


class SttMode(StrEnum):
    auto = "auto"
    gpu = "gpu"
    cpu = "cpu"


class SttRouter:
    def __init__(self, client: redis.Redis, *, default_mode: str = "auto") -> None:
        self.client = client
        self.default_mode = SttMode(default_mode)

    def mode(self) -> SttMode:
        raw = self.client.get(MODE_KEY)
        return SttMode(raw.decode()) if isinstance(raw, bytes) else self.default_mode

    def set_mode(self, mode: SttMode) -> None:
        self.client.set(MODE_KEY, mode.value)

    def gpu_workers(self) -> list[str]:
        keys = self.client.scan_iter(match=f"{GPU_HEARTBEAT_PREFIX}*", count=100)
        return sorted(k.decode().removeprefix(GPU_HEARTBEAT_PREFIX) for k in keys)

    def heartbeat(self, worker_name: str) -> None:
        """Called periodically by a GPU STT worker while it is able to take work."""
        self.client.set(f"{GPU_HEARTBEAT_PREFIX}{worker_name}", b"1", ex=HEARTBEAT_TTL_S)

    def use_gpu(self) -> bool:
        mode = self.mode()
        if mode is SttMode.auto:
            return bool(self.gpu_workers())
        return mode is SttMode.gpu
