# syntax=docker/dockerfile:1
# The API image: the HTTP API, `migrate` and `keys`. No torch: the API never imports it
# (PRODUCT.md section 7), so this image installs the project's dependencies less the
# training stack (docker/api_requirements.py), then the project itself with --no-deps.
#   docker build -f docker/api.Dockerfile -t gradprobe-api .
ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
COPY docker/api_requirements.py docker/
RUN python docker/api_requirements.py pyproject.toml > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY clients/python/gradprobe clients/python/gradprobe
COPY service service
COPY worker worker
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && python -c "import service.api.app" \
    && python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"

# An unprivileged user, and GRADPROBE_HOME where it may write (the production store and
# broker are PostgreSQL and Redis, so nothing of value is kept there).
RUN useradd --system --uid 10001 --create-home --home-dir /home/gradprobe gradprobe \
    && install -d -o gradprobe -g gradprobe /var/lib/gradprobe
ENV GRADPROBE_HOME=/var/lib/gradprobe
USER gradprobe
WORKDIR /home/gradprobe

EXPOSE 8000
CMD ["gradprobe-server", "api", "--host", "0.0.0.0", "--port", "8000"]
