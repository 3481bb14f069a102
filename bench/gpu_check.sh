#!/usr/bin/env bash
# GPU checks of issue 17 on one H100/H200, ~8 minutes in all; each writes bench/results/gpu_check_<name>.json:
#   mfu   bf16 ZeRO-2, ~350M parameters, 50 trainer steps (PaLM-formula MFU), then eager vs torch.compile
#   fp16  dynamic loss scaling from 2^32: the overflow-skip branch taken at least once, the run goes on
#   rung  one ladder rung at GPU scale (~7M parameters at 20 tokens per parameter), its tokens/s
#
#   bash bench/gpu_check.sh            # on the GPU machine, from the repository root
#   bash bench/gpu_check.sh --dry-run  # anywhere: builds and writes every config (bench/results/gpu_check_configs.json)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT_DIR:-bench/results}
if [[ "${1:-}" == "--dry-run" ]]; then
  exec "$PY" bench/gpu_check.py --dry-run --out "$OUT"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
# one process per check: a failure or a hang in one leaves the others' results
timeout 300 "$PY" bench/gpu_check.py --only mfu --out "$OUT" || { echo "gpu_check: mfu failed ($?)"; status=1; }
timeout 90 "$PY" bench/gpu_check.py --only fp16 --out "$OUT" || { echo "gpu_check: fp16 failed ($?)"; status=1; }
timeout 150 "$PY" bench/gpu_check.py --only rung --out "$OUT" || { echo "gpu_check: rung failed ($?)"; status=1; }
exit $status
