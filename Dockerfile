# scalinglaw: the gRPC service in a container (README, "The container").
#   docker build -t scalinglaw .                                   (CPU torch)
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t scalinglaw:cuda .
#   docker build --build-arg EXTRAS=postgres,ray -t scalinglaw:cluster .   (PostgreSQL store, Ray executor)
#   docker run -p 50051:50051 -v scalinglaw-data:/data scalinglaw
# Offline, from a base made of Debian packages and a local torch wheel (what tests/container does):
#   podman build --format docker --build-arg BASE=localhost/debian-python --build-arg TORCH_INDEX= \
#       --build-arg PIP_FIND_LINKS=/wheels -v /opt/wheels:/wheels:ro -t scalinglaw .
ARG PYTHON_VERSION=3.11
# Both stages start from BASE: any image with `python` (3.11, as built here) and its venv module on PATH.
ARG BASE=python:${PYTHON_VERSION}-slim

FROM ${BASE} AS builder
ARG TORCH_VERSION=2.13.0
# The index torch comes from: the CPU build by default; a CUDA index for GPU hosts; empty for pip's
# own index (with PIP_FIND_LINKS holding the wheel: pip prefers 2.13.0+cpu there to the index's 2.13.0).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# pip's own variable, empty or a directory or URL it also takes wheels from (e.g. one mounted with
# `podman build -v DIR:/wheels:ro`); as a build argument pip sees it in both RUNs below.
ARG PIP_FIND_LINKS=
# Optional extras: postgres (SCALINGLAW_DATABASE_URL), ray (SCALINGLAW_EXECUTOR=ray); empty for none.
ARG EXTRAS=postgres
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch is pinned; hadolint reads the optional --index-url as a package
# hadolint ignore=DL3013
RUN pip install "torch==${TORCH_VERSION}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fitting ./fitting
COPY trainers ./trainers
COPY service ./service
COPY protos ./protos
# The project from the copied source (its dependencies are ranged in pyproject.toml; the torch above
# satisfies its range, so pip keeps it). Then out of the venv what only building or testing packages
# needs (about 300 MB): pip and setuptools; the packages' own test suites; torch's C++ tests and
# headers. torch declares setuptools for compiling extensions (torch.utils.cpp_extension), as are its
# headers; the service never does that.
# hadolint ignore=DL3013
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
    && python -m pip uninstall -y -q pip setuptools \
    && site=$(python -c 'import sysconfig; print(sysconfig.get_path("platlib"))') \
    && rm -rf "$site"/torch/test "$site"/torch/include "$site"/torch/bin/test_* "$site"/torch/bin/*Test \
    && find "$site" -type d -name tests -prune -exec rm -rf {} +

FROM ${BASE} AS runtime
RUN useradd --create-home --uid 10001 scalinglaw && mkdir -p /data && chown scalinglaw /data
COPY --from=builder /opt/venv /opt/venv
# The drain on SIGTERM hands jobs back (about a second), then gives calls in flight
# SCALINGLAW_GRACE_SECONDS: 7 s keeps the whole stop inside docker's and podman's default stop timeout
# of 10 s (a Dockerfile cannot set that timeout). Raising the grace needs `--stop-timeout` (docker),
# `--time` (podman) or terminationGracePeriodSeconds (Kubernetes, 30 s by default) of grace + 3 s or more.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SCALINGLAW_HOST=0.0.0.0 \
    SCALINGLAW_PORT=50051 \
    SCALINGLAW_DATA_DIR=/data \
    SCALINGLAW_GRACE_SECONDS=7
USER 10001
WORKDIR /home/scalinglaw
VOLUME ["/data"]
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["python", "-m", "service.healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["scalinglaw"]
CMD ["serve"]
