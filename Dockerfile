# One image per process kind, each installing only its own runtimes (pyproject extras):
#   api               the gateway and Flower: no torch, no model runtimes  ('.[ops,memory-store]')
#   worker-stt        Whisper (faster-whisper, openai-whisper, torch): no llama.cpp ('.[stt]')
#   worker-llm        llama.cpp and the OpenAI client: no torch, no Piper  ('.[llm,memory-store]')
#   worker-tts        Piper (onnxruntime): no torch, no llama.cpp                   ('.[tts]')
#   worker-animation  the tts image: the animation stage uses Piper's phonemizer     ('.[tts]')
#   worker-notify     webhooks and the sweeps: the base install and the memory store
#                                                                         ('.[memory-store]')
#   worker-memory     long-term memory: the embedding model (torch), LanceDB  ('.[memory]')
#   worker-chat       platform chat connectors and the reply selector: the base install
# (the memory store is LanceDB, erased by the API and the retention sweep, read by the LLM stage)
# Each worker image sets VTUBER_WORKER_KIND, so its process imports only its own task modules.
# GPU images build the same targets on a CUDA base (cuDNN 9 for CTranslate2; Ubuntu 24.04 for a
# Python >= 3.11, which 22.04's 3.10 is not):
#   --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
# and the GPU TTS image swaps onnxruntime for the CUDA build: --build-arg ONNXRUNTIME_PACKAGE=onnxruntime-gpu
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM python:3.11-slim-bookworm AS api
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY api api
COPY pipelines pipelines
COPY schemas schemas
COPY tools tools
COPY workers workers
COPY personas personas
RUN pip install '.[api,ops,memory-store]'
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]

# What every worker shares: Python in a venv (the CUDA bases have no python:3.11 of their own),
# ffmpeg, the code, and the heartbeat file its liveness probe reads (workers/healthcheck.sh).
FROM ${BASE_IMAGE} AS worker-base
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-pip python3-venv ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH VTUBER_WORKER_HEARTBEAT_FILE=/tmp/worker-heartbeat
COPY pyproject.toml README.md ./
COPY api api
COPY pipelines pipelines
COPY schemas schemas
COPY tools tools
COPY workers workers
COPY personas personas
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["sh", "/app/workers/healthcheck.sh", "60"]

FROM worker-base AS worker-stt
RUN pip install '.[stt]'
ENV VTUBER_WORKER_KIND=stt
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "stt.live.cpu,stt.batch.cpu", "-n", "stt@%h", "-c", "1", "-l", "INFO"]

FROM worker-base AS worker-llm
# llama-cpp-python compiles llama.cpp; CMAKE_ARGS chooses its backend (e.g. -DGGML_CUDA=on on a
# CUDA devel base). On a GPU, the llm-server compose profile (llama.cpp's own CUDA server) is simpler.
ARG CMAKE_ARGS=""
RUN apt-get update && apt-get install -y --no-install-recommends python3-dev build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN CMAKE_ARGS="${CMAKE_ARGS}" pip install '.[llm,memory-store]'
ENV VTUBER_WORKER_KIND=llm
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "llm", "-n", "llm@%h", "-c", "1", "-l", "INFO"]

FROM worker-base AS worker-tts
ARG ONNXRUNTIME_PACKAGE=""
# espeak-ng's data comes with piper-tts; the package adds the library Piper's phonemizer loads.
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
RUN pip install '.[tts]' \
    && if [ -n "${ONNXRUNTIME_PACKAGE}" ]; then pip uninstall -y onnxruntime && pip install "${ONNXRUNTIME_PACKAGE}"; fi
ENV VTUBER_WORKER_KIND=tts
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "tts", "-n", "tts@%h", "-c", "1", "-l", "INFO"]

FROM worker-tts AS worker-animation
ENV VTUBER_WORKER_KIND=animation
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "animation", "-n", "animation@%h", "-c", "2", "-l", "INFO"]

FROM worker-base AS worker-notify
RUN pip install '.[memory-store]'
ENV VTUBER_WORKER_KIND=notify
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "notify,maintenance", "-n", "notify@%h", "-c", "4", "-l", "INFO"]

FROM worker-base AS worker-memory
RUN pip install '.[memory]'
ENV VTUBER_WORKER_KIND=memory HF_HUB_OFFLINE=1
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "memory", "-n", "memory@%h", "-c", "1", "-l", "INFO"]

FROM worker-base AS worker-chat
RUN pip install .
ENV VTUBER_WORKER_KIND=chat
# Connectors and selection passes wait on sockets, Redis and MongoDB: a thread pool, no models.
CMD ["celery", "-A", "workers.runtime:app", "worker", "-Q", "chat", "-n", "chat@%h", "-P", "threads", "-c", "4", "-l", "INFO"]
