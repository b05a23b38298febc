"""Device choice for onnxruntime (Piper): the GPU only where onnxruntime offers it, the CPU always."""

import onnxruntime

from workers.device import onnxruntime_providers

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def test_onnxruntime_providers_follow_the_request_and_what_is_installed() -> None:
    assert onnxruntime_providers("cpu") == [CPU]
    assert onnxruntime_providers("cuda") == [CUDA, CPU]
    auto = onnxruntime_providers("auto")
    assert auto[-1] == CPU
    assert (CUDA in auto) == (CUDA in onnxruntime.get_available_providers())
