#!/usr/bin/env bash
# Fill .gpu_carry/ (ignored by git) with what benchmarks/gpu_check.sh needs on a GPU box that has neither
# /usr/share/datasets nor ../shared: the Fashion-MNIST IDX files and the documents' reference loop.
# Then hand the folder to the device tool with carry: [".gpu_carry"] (about 30 MB).
#   bash benchmarks/prepare_gpu_carry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
src=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
ref=${REFERENCE_LOOP:-../shared/bench/reference_loop.py}
if [ ! -e "$src/train-images-idx3-ubyte.gz" ]; then
    echo "no Fashion-MNIST in $src: installing Debian's dataset-fashion-mnist" >&2
    apt-get install -y dataset-fashion-mnist >&2
fi
[ -e "$ref" ] || { echo "reference loop not found: $ref (set REFERENCE_LOOP)" >&2; exit 1; }
mkdir -p .gpu_carry/fashion-mnist
cp "$src"/train-images-idx3-ubyte.gz "$src"/train-labels-idx1-ubyte.gz \
   "$src"/t10k-images-idx3-ubyte.gz "$src"/t10k-labels-idx1-ubyte.gz .gpu_carry/fashion-mnist/
cp "$ref" .gpu_carry/reference_loop.py
du -sh .gpu_carry
