# Two images from one file: a light API image (no torch, no model runtimes) and a worker image.
# GPU workers build the worker target on a CUDA base: --build-arg BASE_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
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
RUN pip install '.[ops]'
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]

FROM ${BASE_IMAGE} AS worker
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-pip python3-venv python3-dev build-essential cmake ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG CMAKE_ARGS=""
ENV CMAKE_ARGS=${CMAKE_ARGS}
COPY pyproject.toml README.md ./
COPY api api
COPY pipelines pipelines
COPY schemas schemas
COPY tools tools
COPY workers workers
COPY personas personas
RUN pip install '.[speech,llm,ops]'
CMD ["celery", "-A", "workers.runtime:app", "worker", "-l", "INFO"]
