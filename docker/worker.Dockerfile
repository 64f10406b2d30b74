# syntax=docker/dockerfile:1
# The worker image: a Celery worker that trains on the GPU. Its CUDA libraries come with
# the torch wheel (PyPI's Linux x86_64 wheels are CUDA builds; torch 2.13 ships CUDA 13.0,
# which needs an NVIDIA driver >= 580). The nvidia/cuda base adds only what the NVIDIA
# container toolkit needs to mount the host's driver. For an older driver, build with
# PyTorch's index for an older CUDA and a matching base, e.g.
#   docker build -f docker/worker.Dockerfile -t gradprobe-worker \
#     --build-arg CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04 \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-base-ubuntu24.04
FROM ${CUDA_IMAGE}

ARG TORCH=torch==2.13.0
ARG TORCH_INDEX_URL=
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Ubuntu 24.04's Python 3.12, in a virtual environment (the system one is managed by apt).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

# torch alone in its own layer (several GB): rebuilt only when TORCH changes.
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY clients/python/gradprobe clients/python/gradprobe
COPY service service
COPY worker worker
# The project and the rest of its dependencies; torch is already there and satisfies it.
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && python -c "import torch, worker.run; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

RUN useradd --system --uid 10001 --create-home --home-dir /home/gradprobe gradprobe \
    && install -d -o gradprobe -g gradprobe /var/lib/gradprobe
ENV GRADPROBE_HOME=/var/lib/gradprobe
USER gradprobe
WORKDIR /home/gradprobe

CMD ["gradprobe-server", "worker", "--queues", "gpu,cpu"]
