// A vocabulary trained by `frugal train-tokenizer` must encode identically in
// frugal (reading the GGUF file it wrote, and reading its tokenizer.json) and
// in Hugging Face tokenizers' JavaScript port (reading the tokenizer.json).
// Usage: node trained_tokenizer_compare.js FRUGAL_BINARY WORK_DIR
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { TokenizerLoader } = require('@lenml/tokenizers');
const { make_corpus } = require('./corpus');

const [frugal, work] = process.argv.slice(2);
const corpus = make_corpus();
// Train on one half of the corpus (documents separated by the special token), test on all of it.
const train_txt = path.join(work, 'train.txt');
fs.writeFileSync(train_txt, corpus.filter((_, i) => i % 2 === 0).join('\n<|endoftext|>\n'));
let failures = 0;

function frugal_ids(args) {
  const run = spawnSync(frugal, ['tokenize', ...args, '--jsonl', '--no-bos'], {
    input: corpus.map((s) => JSON.stringify(s)).join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`frugal tokenize failed: ${run.stderr}`);
  return run.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

for (const pre of ['default', 'qwen2', 'deepseek-v3']) {
  const dir = path.join(work, pre);
  const gguf = path.join(dir, 'tok.gguf'), json = path.join(dir, 'tokenizer.json');
  fs.mkdirSync(dir, { recursive: true });
  const train = spawnSync(frugal, ['train-tokenizer', '--data', train_txt, '--vocab-size', '1500', '--pre', pre,
    '--chat-template', 'chatml', '-o', gguf, '--json', json], { encoding: 'utf8' });
  if (train.status !== 0) { console.error(`${pre}: train-tokenizer failed: ${train.stderr}`); failures++; continue; }
  const peer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(json, 'utf8')),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) });
  const from_gguf = frugal_ids(['-m', gguf]);
  const from_json = frugal_ids(['--tokenizer-json', json]);
  let bad = 0, shown = 0;
  corpus.forEach((s, i) => {
    const want = peer.encode(s, { add_special_tokens: false });
    const ok = JSON.stringify(want) === JSON.stringify(from_gguf[i].ids) &&
               JSON.stringify(want) === JSON.stringify(from_json[i].ids) && from_gguf[i].text === s;
    if (!ok) {
      bad++;
      if (shown++ < 5) console.error(`${pre}: differs for ${JSON.stringify(s)}\n  peer: ${JSON.stringify(want)}\n  gguf: ${JSON.stringify(from_gguf[i].ids)}\n  json: ${JSON.stringify(from_json[i].ids)}`);
    }
  });
  console.log(`${pre}: ${corpus.length} strings, ${bad} mismatches`);
  if (bad) failures++;
}
process.exit(failures ? 1 : 0);
