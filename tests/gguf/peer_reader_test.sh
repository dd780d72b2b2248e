#!/usr/bin/env bash
# Files written by frugal read the same in an independent GGUF parser
# (@huggingface/gguf from npm): every metadata key and value, every tensor's
# name, type, shape and data offset, and the start of the data section.
# The parser is installed once into the build directory; without npm or
# network the test says so and is skipped (exit 0).
set -euo pipefail
FRUGAL=${FRUGAL:?path of the frugal binary}
BUILD=${FRUGAL_BUILD_DIR:?build directory}
peers="$BUILD/gguf-peers"
if [[ ! -f "$peers/node_modules/@huggingface/gguf/package.json" ]]; then
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "SKIP: node/npm missing, no peer GGUF parser"; exit 0
  fi
  mkdir -p "$peers"
  [[ -f "$peers/package.json" ]] || echo '{"name":"frugal-gguf-peers","private":true}' >"$peers/package.json"
  if ! (cd "$peers" && npm install --no-audit --no-fund --loglevel=error @huggingface/gguf@0.4.6 >/dev/null 2>&1); then
    echo "SKIP: npm install @huggingface/gguf failed (offline?)"; exit 0
  fi
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat >"$peers/compare.mjs" <<'EOF'
// node compare.mjs FILE.gguf FRUGAL.json: exits 1 on the first difference.
import { gguf, GGMLQuantizationType } from "@huggingface/gguf";
import { readFileSync } from "node:fs";
const [file, jsonPath] = process.argv.slice(2);
const ours = JSON.parse(readFileSync(jsonPath, "utf8"));
const peer = await gguf(file, { allowLocalFile: true });
const fail = (msg) => { console.error(`FAIL ${file}: ${msg}`); process.exit(1); };
const norm = (v) => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map(norm) : v);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

if (peer.metadata.version !== ours.version) fail(`version ${peer.metadata.version} vs ${ours.version}`);
if (Number(peer.metadata.tensor_count) !== ours.tensors.length) fail("tensor count");
for (const m of ours.metadata) {
  if (!(m.key in peer.metadata)) fail(`peer lacks key ${m.key}`);
  const pv = norm(peer.metadata[m.key]);
  const v = m.value;
  if (v !== null && typeof v === "object" && !Array.isArray(v) && "count" in v) {
    if (pv.length !== v.count || !same(pv.slice(0, v.head.length), v.head)) fail(`array ${m.key} differs`);
  } else if (!same(pv, v)) {
    fail(`value of ${m.key}: peer ${JSON.stringify(pv)} vs ours ${JSON.stringify(v)}`);
  }
}
const extra = Object.keys(peer.metadata).filter((k) => !["version", "tensor_count", "kv_count"].includes(k));
if (extra.length !== ours.metadata.length) fail(`key count ${extra.length} vs ${ours.metadata.length}`);
peer.tensorInfos.forEach((t, i) => {
  const o = ours.tensors[i];
  if (t.name !== o.name) fail(`tensor ${i} name ${t.name} vs ${o.name}`);
  if (GGMLQuantizationType[t.dtype].toLowerCase() !== o.type) fail(`${o.name} type ${GGMLQuantizationType[t.dtype]} vs ${o.type}`);
  if (!same(norm(t.shape), o.shape)) fail(`${o.name} shape`);
  if (Number(t.offset) !== o.offset) fail(`${o.name} offset`);
});
if (Number(peer.tensorDataOffset) !== ours.data_offset) fail(`data offset ${peer.tensorDataOffset} vs ${ours.data_offset}`);
console.log(`ok ${file}: ${ours.metadata.length} keys, ${ours.tensors.length} tensors`);
EOF

n=0
for spec in "qwen3moe tiny q8_0" "qwen2 tiny q8_0" "deepseek2 tiny-v3 f16" "olmoe tiny q4_0" "qwen2moe tiny bf16"; do
  read -r arch preset type <<<"$spec"
  f="$dir/$arch-$preset.gguf"
  "$FRUGAL" -q synth --arch "$arch" --preset "$preset" --type "$type" -o "$f" >/dev/null
  "$FRUGAL" inspect --json "$f" >"$f.json"
  node "$peers/compare.mjs" "$f" "$f.json"
  n=$((n + 1))
done
echo "peer_reader_test: $n files read the same by @huggingface/gguf"
