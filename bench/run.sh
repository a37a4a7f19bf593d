#!/usr/bin/env bash
# The benchmark suite of issue 7: builds in release mode, runs this project's benchmarks and the
# PyTorch reference side by side (same models, batch sizes, thread counts, synthetic data), the
# FMA peak probe, GEMM and Conv2d kernel rates, and writes BENCHMARKS.md.
#
#   bash bench/run.sh            # everything (about 10-15 minutes on 2 cores)
#   PYTHON=/path/to/python bash bench/run.sh   # the interpreter that has torch
#   ROUNDS=5 bash bench/run.sh   # rounds of the model timings (default 3)
#
# The model and kernel timings run in ROUNDS rounds, each round alternating this project and
# PyTorch model by model (kernel table by kernel table), and the report takes the median of the
# rounds: on a shared or virtual machine the speed drifts by tens of percent within minutes, and
# alternating exposes both sides to the same drift.
#
# Raw outputs go to target/bench/; the report is BENCHMARKS.md at the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

RAW=target/bench
rm -rf "$RAW"
mkdir -p "$RAW"
MODELS="mlp digits_mlp lenet alexnet_cifar alexnet_imagenet"
THREADS="1 2"
ROUNDS="${ROUNDS:-3}"

if [ -z "${PYTHON:-}" ]; then
    if [ -x /tmp/torchvenv/bin/python ]; then PYTHON=/tmp/torchvenv/bin/python; else PYTHON=python3; fi
fi
if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    TORCH=1
    "$PYTHON" -c "import torch; print(torch.__version__)" >"$RAW/torch_version.txt"
    echo "PyTorch $(cat "$RAW/torch_version.txt") found ($PYTHON)"
else
    TORCH=0
    echo "PyTorch is not installed for $PYTHON: reporting this project's figures only" | tee "$RAW/torch_missing.txt"
fi

echo "== building (release)"
cargo build --release --example bench --example peak
BENCH=target/release/examples/bench

{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "cores=$(nproc)"
    echo "simd=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|fma|avx512f|avx512bw|avx512vl|avx512_bf16|avx512_vnni)$' | tr '\n' ' ')"
    echo "rustc=$(rustc -V)"
    echo "git=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RAW/machine.txt"

echo "== FMA peak probe"
target/release/examples/peak | tee "$RAW/peak.txt"

echo "rounds=$ROUNDS" >>"$RAW/machine.txt"
for r in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        for m in $MODELS; do
            echo "== round $r/$ROUNDS: $m, $t thread(s)"
            "$BENCH" --model "$m" --threads "$t" | tee "$RAW/dl_${m}_${t}.r$r.txt"
            if [ "$TORCH" = 1 ]; then
                "$PYTHON" bench/pytorch_reference.py --model "$m" --threads "$t" | tee "$RAW/torch_${m}_${t}.r$r.txt"
            fi
        done
    done
done

for r in $(seq "$ROUNDS"); do
    echo "== round $r/$ROUNDS: GEMM and Conv2d kernels, 1 thread"
    for k in gemm conv; do
        "$BENCH" --$k --threads 1 | tee "$RAW/dl_${k}_1.r$r.txt"
        if [ "$TORCH" = 1 ]; then
            "$PYTHON" bench/pytorch_reference.py --$k --threads 1 | tee "$RAW/torch_${k}_1.r$r.txt"
        fi
    done
done

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
python3 bench/report.py "$RAW" >BENCHMARKS.md
echo "== wrote BENCHMARKS.md"
