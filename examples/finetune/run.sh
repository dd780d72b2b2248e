#!/usr/bin/env bash
# A fine-tuning use case end to end: the bundled default model (trained by frugal on
# Debian's fortunes) taught to answer "who said it?" in JSON, by a LoRA adapter over the frozen
# model and by full fine-tuning (frugal train --init) for the same number of steps, each measured
# by the task's loss on held-out authors and the exact match of its greedy answers.
# Usage: examples/finetune/run.sh [OUT_DIR] (default /tmp/frugal-quote-task); FRUGAL names the
# binary (default build/frugal). STEPS (default 100) steps of 8 examples each; TEST (default 200)
# held-out examples.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FRUGAL:-$src/build/frugal}
out=${1:-/tmp/frugal-quote-task}
steps=${STEPS:-100}
n_test=${TEST:-200}
base=$src/models/fortunes-moe.gguf
mkdir -p "$out"
cd "$out"
python3 "$src/examples/finetune/quote_task.py" make . --train $((steps * 8)) --test "$n_test"

timed() {  # timed NAME CMD...: wall time and peak RSS of CMD into NAME.time
  local name=$1
  shift
  /usr/bin/time -f "$name: %e s wall, %U s user, %S s system, peak RSS %M KB" -o "$name.time" "$@"
  cat "$name.time"
}
"$bin" finetune -m "$base" --data test.jsonl --eval-only
timed lora "$bin" finetune -m "$base" --data train.jsonl --val test.jsonl -o quote-lora.gguf --batch 8 \
  --epochs 1 --lr 2e-3 --targets attn,experts --eval-every 0 --print-every 10 --log lora.jsonl
timed full "$bin" train --init "$base" --data train.txt --steps "$steps" --batch 8 --seq 128 --lr 5e-4 \
  --type f16 --print-every 10 --log full.jsonl -o quote-full.gguf
"$bin" finetune -m quote-full.gguf --data test.jsonl --eval-only

# Greedy answers through frugal serve: the base and its adapter in one server, the fully
# fine-tuned model in another.
serve_and_score() {  # serve_and_score PORT MODEL [--lora NAME=FILE] -- ADAPTER:LABEL... (no adapter: the base)
  local port=$1 model=$2
  shift 2
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  "$bin" serve -m "$model" --port "$port" --temp 0 "${args[@]}" >"serve-$port.log" 2>&1 &
  local pid=$!
  # Up to a minute to load: on a busy machine a niced server may wait long for a core.
  local up=0
  for _ in $(seq 300); do curl -sf "localhost:$port/health" >/dev/null && up=1 && break; sleep 0.2; done
  if [ "$up" = 0 ]; then echo "frugal serve on port $port did not start: see serve-$port.log" >&2; kill "$pid"; exit 1; fi
  for pair in "$@"; do
    python3 "$src/examples/finetune/quote_task.py" score test.jsonl --url "http://127.0.0.1:$port" \
      --model "${pair%%:*}" --label "${pair#*:}" --show 3
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
serve_and_score 18131 "$base" --lora quote=quote-lora.gguf -- :base quote:LoRA
serve_and_score 18132 quote-full.gguf -- :"full fine-tuning"
