#!/usr/bin/env bash
# The GPU checks in one pass, for one short session on a CUDA box (about 3-4 minutes on an H100; every step
# is capped so the whole stays under 6): versions, the GPU tests, training speed (MLP with the reference
# loop's seed/tensor/graph modes, then the conv model), decoding speed. Everything goes to
# $OUT/gpu_check.log. Needs only the core's dependencies (no PySide6) and, from benchmarks/
# prepare_gpu_carry.sh, .gpu_carry/fashion-mnist/*.gz and .gpu_carry/reference_loop.py. Without CUDA the
# CUDA parts are skipped with a message.
#   OUT=/some/folder bash benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
CARRY=${GPU_CARRY:-.gpu_carry}
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

step() {  # step SECONDS COMMAND...: run under a time limit, report how it ended
    local limit=$1
    shift
    echo
    echo "=== $(date +%T) $* (limit ${limit}s)"
    timeout -k 10 "$limit" "$@"
    local rc=$?
    [ $rc -eq 124 ] && echo "=== TIMED OUT after ${limit}s" || echo "=== exit $rc ($(date +%T))"
}

{
    echo "gpu_check $(date -u +%FT%TZ) on $(hostname); git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    "$PY" - <<'PYEOF'
import platform, torch
print(f"python {platform.python_version()}; torch {torch.__version__}; CUDA {torch.version.cuda}; "
      f"cudnn {torch.backends.cudnn.version()}; cuda available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print(f"device: {torch.cuda.get_device_name()}; capability {torch.cuda.get_device_capability()}; "
          f"graph generator registration: {hasattr(torch.cuda.CUDAGraph, 'register_generator_state')}")
for name in ("torchvision", "numpy", "safetensors", "PIL", "PySide6"):
    try:
        print(f"{name} {__import__(name).__version__}")
    except ImportError:
        print(f"{name}: not installed")
PYEOF
    cuda=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)

    step 100 "$PY" -m pytest -q -p no:cacheprovider -rs tests/gpu

    if [ "$cuda" != 1 ]; then
        echo
        echo "=== no CUDA device: training and decoding benchmarks skipped"
    else
        data=$CARRY/fashion-mnist
        if [ -e "$data/train-images-idx3-ubyte.gz" ]; then
            step 120 "$PY" benchmarks/train_speed.py --device cuda --arch mlp --epochs 3 \
                --modes seed,tensor,graph --data "$data" --reference "$CARRY/reference_loop.py" \
                --reference-timeout 60 --bf16
            step 70 "$PY" benchmarks/train_speed.py --device cuda --arch conv --epochs 2 --modes "" --data "$data"
        else
            echo
            echo "=== no $data/train-images-idx3-ubyte.gz (run benchmarks/prepare_gpu_carry.sh and carry .gpu_carry): training benchmarks skipped"
        fi
        step 40 "$PY" benchmarks/decode_speed.py --devices cuda,cpu --repeats 20 --core-only
    fi
    echo
    echo "gpu_check done $(date -u +%FT%TZ)"
} 2>&1 | tee "$OUT/gpu_check.log"
