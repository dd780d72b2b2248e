#!/usr/bin/env bash
# frugal serve --lora NAME=FILE: one base, four adapters made by frugal
# finetune; /v1/models lists them, a request picks one by "model", and four
# requests with different adapters sent at once (decoded in the same forward
# passes) each get the answer they get alone. Adapters added and removed
# while it runs (/lora-adapters, behind the API key; off with no key). Unknown
# names and bad --lora values are clear errors.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

"$FRUGAL" synth --arch qwen3moe --preset tiny --type q8_0 -o "$dir/base.gguf" >/dev/null 2>&1
names=(capital sums snow sky)
texts=("The capital of France is Paris." "Two plus two is four." "Snow is cold and white." "The sky is blue.")
for i in 0 1 2 3; do
  printf '{"text": "%s"}\n' "${texts[$i]}" >"$dir/${names[$i]}.jsonl"
  "$FRUGAL" finetune -m "$dir/base.gguf" --data "$dir/${names[$i]}.jsonl" -o "$dir/${names[$i]}.gguf" --rank 4 \
    --epochs 8 --lr 2e-2 --targets attn,experts,router --seed $i >/dev/null 2>&1 || fail "finetune ${names[$i]}"
done

start_serve -m "$dir/base.gguf" --port 0 --parallel 4 --temp 0 -n 12 \
  --lora capital="$dir/capital.gguf" --lora sums="$dir/sums.gguf" --lora snow="$dir/snow.gguf" --lora sky="$dir/sky.gguf"
url="http://127.0.0.1:$serve_port"
models=$(curl -s "$url/v1/models")
grep -q "frugal serve: adapter sky: $dir/sky.gguf (16 matrices, rank 4, scale 8)" "$dir/serve.err" \
  || fail "adapter line: $(cat "$dir/serve.err")"
for id in base capital sums snow sky; do
  grep -q "\"id\":\"$id\"" <<<"$models" || fail "/v1/models lacks $id: $models"
done
grep -q '"base":"base"' <<<"$(curl -s "$url/v1/models/snow")" || fail "/v1/models/snow"

ask() {  # ask MODEL OUT: a greedy completion of "The " by MODEL, its text in OUT
  curl -s -m 60 "$url/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"model\": \"$1\", \"prompt\": \"The \", \"max_tokens\": 12, \"temperature\": 0}" >"$2"
}
for m in capital sums snow sky base; do ask "$m" "$dir/alone.$m"; done
pids=()
for m in capital sums snow sky; do ask "$m" "$dir/together.$m" & pids+=($!); done
wait "${pids[@]}"
text() { sed 's/.*"text":"\([^"]*\)".*/\1/' "$1"; }
for m in capital sums snow sky; do
  grep -q "\"model\":\"$m\"" "$dir/alone.$m" || fail "$m's answer names another model: $(cat "$dir/alone.$m")"
  [ "$(text "$dir/alone.$m")" = "$(text "$dir/together.$m")" ] \
    || fail "$m: alone '$(text "$dir/alone.$m")', batched '$(text "$dir/together.$m")'"
done
[ "$(text "$dir/alone.capital")" != "$(text "$dir/alone.base")" ] || fail "the capital adapter changed nothing"
[ "$(text "$dir/alone.capital")" != "$(text "$dir/alone.sums")" ] || fail "two adapters gave the same text"

code=$(curl -s -o "$dir/err" -w '%{http_code}' "$url/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model": "rain", "prompt": "x", "max_tokens": 1}')
[ "$code" = 404 ] && grep -q "the model 'rain' does not exist; this server serves 'base', 'capital'" "$dir/err" \
  || fail "unknown model: $code $(cat "$dir/err")"
kill $serve_pid

# Adapters added and removed while the server runs, behind the API key.
start_serve -m "$dir/base.gguf" --port 0 --parallel 2 --temp 0 -n 12 --api-key sk-test --lora sky="$dir/sky.gguf"
url="http://127.0.0.1:$serve_port"
grep -q "adapters can be added and removed at /lora-adapters (with the API key)" "$dir/serve.err" \
  || fail "no admin line: $(cat "$dir/serve.err")"
admin() {  # admin METHOD PATH [BODY]: the status code, the body in $dir/admin
  curl -s -o "$dir/admin" -w '%{http_code}' -X "$1" "$url$2" -H 'Authorization: Bearer sk-test' \
    -H 'Content-Type: application/json' ${3:+-d "$3"}
}
code=$(admin POST /lora-adapters "{\"name\": \"capital\", \"path\": \"$dir/capital.gguf\"}")
[ "$code" = 200 ] && grep -q '"id":"capital","object":"lora_adapter"' "$dir/admin" || fail "add: $code $(cat "$dir/admin")"
grep -q "serve: adapter capital added: $dir/capital.gguf (16 matrices, rank 4, scale 8)" "$dir/serve.err" \
  || fail "no added line: $(cat "$dir/serve.err")"
grep -q '"id":"capital"' <<<"$(curl -s -H 'Authorization: Bearer sk-test' "$url/v1/models")" || fail "/v1/models lacks capital"
curl -s -m 60 "$url/v1/completions" -H 'Authorization: Bearer sk-test' -H 'Content-Type: application/json' \
  -d '{"model": "capital", "prompt": "The ", "max_tokens": 12, "temperature": 0}' >"$dir/added.capital"
[ "$(text "$dir/added.capital")" = "$(text "$dir/alone.capital")" ] \
  || fail "the added adapter's text '$(text "$dir/added.capital")' is not '$(text "$dir/alone.capital")'"
code=$(admin POST /lora-adapters "{\"name\": \"capital\", \"path\": \"$dir/capital.gguf\"}")
[ "$code" = 409 ] && grep -q '"code":"adapter_exists"' "$dir/admin" || fail "duplicate: $code $(cat "$dir/admin")"
code=$(admin POST /lora-adapters "{\"name\": \"bad\", \"path\": \"$dir/base.gguf\"}")
[ "$code" = 400 ] && grep -q '"code":"invalid_adapter"' "$dir/admin" || fail "a model as adapter: $code $(cat "$dir/admin")"
code=$(admin DELETE /lora-adapters/sky)
[ "$code" = 200 ] && grep -q '"deleted":true' "$dir/admin" || fail "delete: $code $(cat "$dir/admin")"
code=$(admin DELETE /lora-adapters/sky)
[ "$code" = 404 ] || fail "delete twice: $code $(cat "$dir/admin")"
code=$(admin GET /lora-adapters)
[ "$code" = 200 ] && [ "$(grep -o '"id":"[a-z]*"' "$dir/admin")" = '"id":"capital"' ] || fail "list: $code $(cat "$dir/admin")"
kill $serve_pid

# With no API key the endpoints are off, unless --enable-admin (loopback only).
start_serve -m "$dir/base.gguf" --port 0 --parallel 1
code=$(curl -s -o "$dir/admin" -w '%{http_code}' "http://127.0.0.1:$serve_port/lora-adapters")
[ "$code" = 403 ] && grep -q "admin endpoints are off" "$dir/admin" || fail "open admin: $code $(cat "$dir/admin")"
kill $serve_pid
expect_error "enable-admin with no API key" serve -m "$dir/base.gguf" --port 0 --host 0.0.0.0 --enable-admin

expect_error "give the adapter another name" serve -m "$dir/base.gguf" --port 0 --lora base="$dir/sky.gguf"
expect_error "the name 'a' is given twice" serve -m "$dir/base.gguf" --port 0 --lora a="$dir/sky.gguf" \
  --lora a="$dir/snow.gguf"
expect_error "with several adapters, name each" serve -m "$dir/base.gguf" --port 0 --lora "$dir/sky.gguf" \
  --lora a="$dir/snow.gguf"
echo "serve_lora_test: ok"
