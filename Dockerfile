# scalinglaw: the gRPC service in a container.
#   docker build -t scalinglaw .                                   (CPU torch)
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t scalinglaw:cuda .
#   docker build --build-arg EXTRAS=postgres,ray -t scalinglaw:cluster .   (PostgreSQL store, Ray executor)
#   docker run -p 50051:50051 -v scalinglaw-data:/data scalinglaw
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS builder
ARG TORCH_VERSION=2.13.0
# The CPU wheel index by default; point it at a CUDA index for GPU hosts.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Optional extras: postgres (SCALINGLAW_DATABASE_URL), ray (SCALINGLAW_EXECUTOR=ray).
ARG EXTRAS=postgres
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fitting ./fitting
COPY trainers ./trainers
COPY service ./service
COPY protos ./protos
# the project itself from the copied source (its dependencies are ranged in pyproject.toml)
# hadolint ignore=DL3013
RUN pip install ".[${EXTRAS}]"

FROM python:${PYTHON_VERSION}-slim AS runtime
RUN useradd --create-home --uid 10001 scalinglaw && mkdir -p /data && chown scalinglaw /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SCALINGLAW_HOST=0.0.0.0 \
    SCALINGLAW_PORT=50051 \
    SCALINGLAW_DATA_DIR=/data
USER 10001
WORKDIR /home/scalinglaw
VOLUME ["/data"]
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["python", "-m", "service.healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["scalinglaw"]
CMD ["serve"]
