#!/usr/bin/env bash
# One prepared GPU check (at most 8 minutes): the paper's smallest Table 2 setting of the Transformer LM
# (T 1K, N 4096) on CUDA, 1-2 outer iterations of the policy search, steps/s, TFLOP/s, peak memory, AR/CR.
# On a GPU machine with python3 and torch, from the repository root:
#   bash bench/gpu_transformer.sh [options of bench/gpu_transformer.py]
# What else the benchmark imports comes from pyproject.toml's dependencies: bench/missing_requirements.py
# names the ones this python3 lacks, and they are installed into $SITE (default /tmp/site) from the wheels
# in $WHEELS (default .whl; bench/gpu_wheels.sh downloads them on a machine with the package index) or,
# where that folder does not exist, by plain pip.
set -euo pipefail
cd "$(dirname "$0")/.."
SITE="${SITE:-/tmp/site}"
WHEELS="${WHEELS:-.whl}"
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('python', __import__('sys').version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)" \
    || { echo "error: this python3 has no torch; install a CUDA build of torch first" >&2; exit 2; }
# --no-deps, once per round: pip's --target ignores what is already installed (it would bring numpy and
# scipy again), so each round installs only what is missing, then asks again for what those require.
for _ in 1 2 3 4 5 6; do
    mapfile -t missing < <(python3 bench/missing_requirements.py --site "$SITE" bench/gpu_transformer.py)
    [ "${#missing[@]}" -eq 0 ] && break
    echo "installing into $SITE: ${missing[*]}"
    if [ -d "$WHEELS" ]; then
        python3 -m pip install -q --no-index --find-links "$WHEELS" --no-deps --target "$SITE" "${missing[@]}"
    else
        python3 -m pip install -q --no-deps --target "$SITE" "${missing[@]}"
    fi
done
mapfile -t missing < <(python3 bench/missing_requirements.py --site "$SITE" bench/gpu_transformer.py)
if [ "${#missing[@]}" -ne 0 ]; then
    echo "error: still missing after installing: ${missing[*]}" >&2
    exit 2
fi
timeout 540 python3 bench/gpu_transformer.py --budget "${BUDGET:-450}" "$@"
