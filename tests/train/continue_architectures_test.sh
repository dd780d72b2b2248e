#!/usr/bin/env bash
# Continued pre-training of every MoE architecture the trainer takes, as a
# user types it: frugal synth's tiny model of each (qwen3moe, qwen2moe with
# its gated shared expert, olmoe, Mixtral-style llama, deepseek2 as
# DeepSeek-V2-Lite, DeepSeek-V3 and Kimi-K2), frugal train --init
# on text: the validation loss falls from its step-0 value; the export keeps
# the architecture, continues again from exactly where it stopped (its step-0
# validation loss is the first run's last) and runs in frugal run. An
# architecture the trainer cannot represent yet is refused by name.
set -euo pipefail
source "${FRUGAL_SOURCE_DIR:?}/tests/lib/cli_test_lib.sh"

for i in $(seq 1 800); do echo "line $i: the quick brown fox jumps over the lazy dog $((i % 7))"; done >"$dir/text.txt"
run=(--data "$dir/text.txt" --batch 4 --seq 32 --eval-every 6 --eval-batches 2 --print-every 6 --seed 3 -t 1)

val_at() {  # val_at STEP LOG: the validation loss printed at that step
  sed -n "s|^step $1/[0-9]* .*val \([0-9.]*\) .*|\1|p" "$2"
}

# ARCH:PRESET; deepseek2's tiny-v3 and tiny-k2 (sigmoid routers) route with
# a selection bias, which --bias-balance keeps moving.
for ap in qwen3moe:tiny qwen2moe:tiny olmoe:tiny llama:tiny deepseek2:tiny deepseek2:tiny-v3 deepseek2:tiny-k2; do
  arch=${ap%:*} preset=${ap#*:}
  extra=()
  [[ $preset == tiny-v3 || $preset == tiny-k2 ]] && extra=(--bias-balance)
  "$FRUGAL" synth --arch "$arch" --preset "$preset" --type f32 -o "$dir/$arch.gguf" >/dev/null 2>&1
  "$FRUGAL" train --init "$dir/$arch.gguf" "${run[@]}" "${extra[@]}" --steps 12 --lr 3e-3 -o "$dir/$arch-1.gguf" 2>"$dir/err1" ||
    fail "$arch: train --init failed: $(cat "$dir/err1")"
  grep -q "^train: $arch " "$dir/err1" || fail "$arch: no '$arch' in the banner: $(head -1 "$dir/err1")"
  v0=$(val_at 0 "$dir/err1")
  v12=$(val_at 12 "$dir/err1")
  [[ -n "$v0" && -n "$v12" ]] || fail "$arch: no validation lines: $(cat "$dir/err1")"
  awk -v a="$v12" -v b="$v0" 'BEGIN { exit !(a < b - 1.0) }' || fail "$arch: validation loss $v0 -> $v12 did not fall"

  "$FRUGAL" train --init "$dir/$arch-1.gguf" "${run[@]}" "${extra[@]}" --steps 6 --lr 1e-3 -o "$dir/$arch-2.gguf" 2>"$dir/err2" ||
    fail "$arch: second continuation failed: $(cat "$dir/err2")"
  [[ "$(val_at 0 "$dir/err2")" == "$v12" ]] ||
    fail "$arch: continuing starts at $(val_at 0 "$dir/err2"), the export ended at $v12"

  "$FRUGAL" run -m "$dir/$arch-2.gguf" -p "line" -n 4 >"$dir/out" 2>"$dir/err3" || fail "$arch: run failed: $(cat "$dir/err3")"
  [[ -s "$dir/out" ]] || fail "$arch: run printed nothing"
  echo "$arch $preset: val $v0 -> $v12, continued from $v12"
done

"$FRUGAL" synth --arch glm4moe --preset tiny --type f32 -o "$dir/glm.gguf" >/dev/null 2>&1
expect_error "the glm4moe architecture cannot be trained yet" train --init "$dir/glm.gguf" "${run[@]}" --steps 1 -o "$dir/x.gguf"
echo "continued pre-training of every trainable architecture: ok"
