#!/usr/bin/env bash
# mpirun -np N frugal train --data-parallel --dp-bucket-mb S: the gradient's
# sum in buckets started as the backward pass finishes them gives the bits
# of one sum after the pass (S = 0), so the checkpoints (parameters, AdamW
# moments) of 6 steps are byte for byte the same at every bucket size, at 2
# and at 3 ranks; a bad size is a clear error.
# Skipped, saying why, where mpirun or frugal's MPI build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"

"$FRUGAL" synth --arch qwen3moe --type f32 -o "$dir/tok.gguf" >/dev/null
for i in $(seq 1 1500); do echo "line $i: the quick brown fox jumps over the lazy dog $((i % 7))"; done >"$dir/text.txt"
train=(train --data "$dir/text.txt" --tokenizer "$dir/tok.gguf" --embd 32 --layers 3 --heads 4 --heads-kv 2
       --head-dim 8 --experts 4 --experts-used 2 --ff-exp 32 --seq 32 --lr 3e-3 --warmup 3 --seed 5 -t 1
       --steps 6 --print-every 6 --data-parallel)

# Sizes: one sum after the pass; 1 byte (every tensor its own bucket);
# 20 KB (a few tensors a bucket); 4 MB (the default: the whole model here).
for n in 2 3; do
  for mb in 0 0.000001 0.02 4; do
    ranks "$n" "${train[@]}" --batch 6 --dp-bucket-mb "$mb" --checkpoint "$dir/ck.$n.$mb" -o "$dir/m.$n.$mb.gguf" \
      >/dev/null 2>"$dir/err.$n.$mb" || fail "$n ranks, --dp-bucket-mb $mb: $(cat "$dir/err.$n.$mb")"
  done
  for mb in 0.000001 0.02 4; do
    cmp -s "$dir/ck.$n.0" "$dir/ck.$n.$mb" || fail "$n ranks: --dp-bucket-mb $mb gives another checkpoint than 0"
  done
done

expect_error "--dp-bucket-mb must be between 0 and 1e6" "${train[@]}" --batch 6 --dp-bucket-mb -1 -o "$dir/bad.gguf"
echo OK
