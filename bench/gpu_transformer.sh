#!/usr/bin/env bash
# One prepared GPU check (about 8 minutes): the paper-sized Transformer LM on CUDA.
# On a lent device machine, from the repository root:
#   bash bench/gpu_transformer.sh            (uses the machine's python3 and torch)
# It needs numpy, scipy, lmfit, pandas and pydantic beside torch; where they are missing, bring
# them as wheels (see the device tool's README) and put them on PYTHONPATH first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
timeout 540 python3 bench/gpu_transformer.py --budget "${BUDGET:-420}" "$@"
