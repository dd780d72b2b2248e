// Hostile strings for the tokenizer comparison: U+FFFD where a decoder puts
// it for invalid bytes (frugal splits raw invalid bytes as it splits U+FFFD,
// so these pin that split to the peer's), and long runs of one kind of
// character that are a single pre-token (quadratic BPE merging took minutes).
'use strict';

function hostile_strings() {
  const fffd = '\uFFFD';
  const out = [
    `caf${fffd}`, `caf${fffd}.`, `${fffd}hello`, `a${fffd}${fffd}b`, `12${fffd}34`, ` ${fffd} `, `${fffd}\n${fffd}`,
    `hello world, caf${fffd} ok`, `naïve ${fffd}${fffd}${fffd} text`, `你好${fffd}世界`, `'s${fffd}'ll`, `x${fffd}😀`,
  ];
  for (const [unit, n] of [[' ', 4096], ['0', 3000], ['7', 1001], ['中', 2000], ['!', 1500], ['\n', 700], ['\t', 513],
                           [' \n', 300], ['ab', 1000], ['é', 900], ['😀', 400], ['▁', 600]])
    out.push(unit.repeat(n));
  out.push('word ' + ' '.repeat(2048) + 'word');
  out.push('x' + '1'.repeat(2000) + 'y');
  return out;
}

module.exports = { hostile_strings };
