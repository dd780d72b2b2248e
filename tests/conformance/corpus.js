// Deterministic test corpus for the tokenizer conformance tests: many short
// strings mixing scripts, emoji, code, numbers, whitespace runs and the
// spelling of special tokens. Same seed -> same corpus on every machine.
'use strict';

function rng(seed) {  // xorshift32
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

const pools = {
  english: ['The quick brown fox jumps over the lazy dog.', "It's", "don't", "we'll", "I'M", "they'VE",
    'Hello', 'world', 'tokenization', 'Mixture-of-Experts', 'cheap', 'models', 'U.S.A.', 'e-mail',
    'state-of-the-art', 'naïve café', 'résumé', 'Straße', 'HTTP/2', 'C++20'],
  chinese: ['你好', '世界', '我们在测试分词器。', '人工智能', '混合专家模型', '这是一个句子，', '“引号”', '１２３'],
  japanese: ['こんにちは', '世界', 'カタカナ', 'ひらがなとカタカナ', '東京都', '日本語のテキスト。', 'ｱｲｳ'],
  vietnamese: ['Xin chào', 'thế giới', 'Tiếng Việt', 'người', 'được', 'những', 'nước'],
  arabic: ['مرحبا', 'بالعالم', 'اللغة العربية', 'شكرا', '١٢٣٤'],
  emoji: ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '🇯🇵🇺🇸', '❤️', '🤖', '✨', '🧑🏿‍💻'],
  code: ['def f(x):', '    return x * 2', 'for (int i = 0; i < n; ++i) {', '}', '#include <stdio.h>',
    'a->b', 'x != y && y >= z', '"quoted"', "'single'", '`backtick`', 'foo_bar_baz', 'CamelCaseName',
    '/usr/bin/env', 'https://example.com/a?b=c&d=e', '{"key": [1, 2, 3]}', '<div class="x">', '$HOME', '@user'],
  numbers: ['0', '7', '42', '123', '1234', '12345', '3.14159', '1,000,000', '-17', '1e-9', '0x1F', '2026',
    '99.9%', '$5.00', '١٢'],
  space: [' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n ', '\n\t', '    ', '\u00a0', '\u3000'],
  special: ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<s>', '</s>', '<unk>', '<|start|>', '<|end|>',
    '<|return|>', '<|message|>', '<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<|im_start', 'im_end|>',
    '<think>', '</think>', '<tool_call>', '▁', '<0x41>'],
  misc: ['Ω', 'ß', 'ﬁ', '∑', '→', '…', '—', '–', '«', '»', '§', '©', '°C', '½', 'Ⅻ', 'Я', 'Привет', 'Ελληνικά',
    'עברית', 'हिन्दी', 'ไทย', '한국어', 'ㄱ', 'é', 'ñ', 'ç'],
};
const names = Object.keys(pools);

function make_corpus(count = 2200, seed = 20261122) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const out = [];
  // Every pool entry on its own first, then random mixes.
  for (const n of names) for (const s of pools[n]) out.push(s);
  while (out.length < count) {
    const parts = 1 + Math.floor(r() * 8);
    const focus = pick(names);
    let s = '';
    for (let k = 0; k < parts; ++k) {
      const pool = r() < 0.5 ? pools[focus] : pools[pick(names)];
      s += pick(pool);
      const sep = r();
      if (sep < 0.55) s += ' ';
      else if (sep < 0.65) s += pick(pools.space);
    }
    if (r() < 0.1) s = ' ' + s;
    out.push(s);
  }
  return out;
}

module.exports = { make_corpus };
if (require.main === module) {
  for (const s of make_corpus()) console.log(JSON.stringify(s));
}
