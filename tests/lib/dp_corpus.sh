# The corpus of the data-parallel training tests (tests/dist/*data_parallel_test.sh):
# a synth model whose byte-level vocabulary is the tokenizer ($dir/tok.gguf)
# and 1,500 short lines of text ($dir/text.txt). Source it after
# cli_test_lib.sh and mpi_test_lib.sh.
"$FRUGAL" synth --arch qwen3moe --type f32 -o "$dir/tok.gguf" >/dev/null
for i in $(seq 1 1500); do echo "line $i: the quick brown fox jumps over the lazy dog $((i % 7))"; done >"$dir/text.txt"
