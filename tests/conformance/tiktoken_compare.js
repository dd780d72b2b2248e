// frugal's import of a tiktoken vocabulary (tiktoken.model beside a
// tokenizer_config.json, the way Kimi-K2's Hugging Face files ship it)
// against js-tiktoken, a JavaScript port of tiktoken: the vocabulary is
// o200k_base's ranks (about 200,000 tokens, so the merges frugal recovers
// from the ranks are exercised at full size), the text is split by Kimi-K2's
// pre-tokenizer pattern (its tokenization_kimi.py pat_str, written below for
// JavaScript's regular expressions: its set intersections as lookaheads, its
// case-insensitive contractions spelt out), and Kimi-K2's special tokens are
// added after the ranks. Equal ids for every corpus string (special tokens
// parsed where they are spelt), and decode(encode(s)) == s.
// Usage: node tiktoken_compare.js FRUGAL_BINARY
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Tiktoken } = require('js-tiktoken/lite');
const o200k = require('js-tiktoken/ranks/o200k_base');
const { make_corpus } = require('./corpus');
const { hostile_strings } = require('./hostile');

const frugal = process.argv[2];
// \p{Han} is the Script property, as tiktoken's Rust regular expressions
// read a bare script name: U+3002 (。), whose script is Common, is not Han
// (under Script_Extensions it would be).
const han = '\\p{Script=Han}';
const upper = `(?:(?!${han})[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}])`;
const lower = `(?:(?!${han})[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}])`;
const contraction = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const kimi_pattern = [
  `${han}+`,
  `[^\\r\\n\\p{L}\\p{N}]?${upper}*${lower}+${contraction}?`,
  `[^\\r\\n\\p{L}\\p{N}]?${upper}+${lower}*${contraction}?`,
  '\\p{N}{1,3}',
  ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*',
  '\\s*[\\r\\n]+',
  '\\s+(?!\\S)',
  '\\s+',
].join('|');

const base = new Tiktoken(o200k);
let next_id = 0;
for (const rank of base.textMap.keys()) next_id = Math.max(next_id, rank + 1);
const specials = {};
for (const name of ['[BOS]', '[EOS]', '<|im_end|>', '<|im_user|>', '<|im_assistant|>', '<|start_header_id|>',
  '<|end_header_id|>', '[EOT]', '<|im_system|>', '<|im_middle|>']) {
  specials[name] = next_id++;
}
const peer = new Tiktoken({ pat_str: kimi_pattern, special_tokens: specials, bpe_ranks: o200k.bpe_ranks });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-tiktoken-'));
try {
  const lines = [];
  for (const [rank, bytes] of peer.textMap) lines.push(`${Buffer.from(bytes).toString('base64')} ${rank}`);
  fs.writeFileSync(path.join(dir, 'tiktoken.model'), lines.join('\n') + '\n');
  const added = {};
  for (const [text, id] of Object.entries(specials)) added[String(id)] = { content: text, special: true };
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    auto_map: { AutoTokenizer: ['tokenization_kimi.TikTokenTokenizer', null] },
    tokenizer_class: 'TikTokenTokenizer',
    added_tokens_decoder: added,
    bos_token: '[BOS]',
    eos_token: '[EOS]',
  }));

  const corpus = make_corpus().concat(hostile_strings(), Object.keys(specials).map((s) => `a${s}b ${s}`));
  const run = spawnSync(frugal, ['tokenize', '--tokenizer-json', path.join(dir, 'tiktoken.model'), '--jsonl', '--no-bos'], {
    input: corpus.map((s) => JSON.stringify(s)).join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
  if (run.status !== 0) {
    console.error(`frugal tokenize failed (${run.status}): ${run.stderr}`);
    process.exit(1);
  }
  const got_lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  let bad_ids = 0, bad_text = 0, shown = 0;
  corpus.forEach((s, i) => {
    const want = peer.encode(s, 'all');
    const got = got_lines[i].ids;
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      bad_ids++;
      if (shown++ < 5) console.error(`ids differ for ${JSON.stringify(s)}\n  peer:   ${JSON.stringify(want)}\n  frugal: ${JSON.stringify(got)}`);
    }
    if (got_lines[i].text !== s) {
      bad_text++;
      if (shown++ < 5) console.error(`decode(encode(s)) != s for ${JSON.stringify(s)}: ${JSON.stringify(got_lines[i].text)}`);
    }
  });
  console.log(`kimi-k2 over o200k_base ranks: ${peer.textMap.size} ranks, ${corpus.length} strings, ` +
              `${bad_ids} id mismatches, ${bad_text} round-trip failures`);
  process.exit(bad_ids || bad_text ? 1 : 0);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
