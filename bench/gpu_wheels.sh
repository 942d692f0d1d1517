#!/usr/bin/env bash
# Downloads, on a machine that reaches the package index, the wheels bench/gpu_transformer.sh installs on
# a GPU machine that reaches nothing: what bench/gpu_transformer.py needs from pyproject.toml's
# dependencies, with their dependencies, built for that machine (CPython 3.12, manylinux x86_64).
# torch is left out: the GPU machine brings its own CUDA build.
#   bash bench/gpu_wheels.sh                    -> .whl/ (about 52 MB: numpy and scipy are most of it)
#   SKIP="numpy scipy" bash bench/gpu_wheels.sh -> without the wheels that machine already has (under 1 MB)
# Then carry .whl (git ignores it) with the working tree, and run `bash bench/gpu_transformer.sh` there.
# PYTHON_VERSION and PLATFORM change the target.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="${WHEELS:-.whl}"
mapfile -t needed < <(python3 bench/missing_requirements.py --all bench/gpu_transformer.py | grep -v '^torch\b')
echo "downloading for CPython ${PYTHON_VERSION:-3.12}: ${needed[*]} and their dependencies"
python3 -m pip download -q --only-binary=:all: --python-version "${PYTHON_VERSION:-3.12}" --implementation cp \
    --platform "${PLATFORM:-manylinux2014_x86_64}" -d "$WHEELS" "${needed[@]}"
for name in ${SKIP:-}; do
    rm -f "$WHEELS/$name"-[0-9]*.whl
done
ls -s "$WHEELS"
