// Forced tool calls against a server whose model speaks harmony (gpt-oss's
// vocabulary): a named function and "required" among two tools, whole and
// streamed with the same seed; the streamed head and argument fragments put
// together equal the whole answer's call, and no text leaks as content.
// Usage: node harmony_tools.js BASE_URL
'use strict';
const assert = require('assert');

const base = process.argv[2];
const tools = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object',
    properties: { city: { enum: ['Paris', 'Rome'] }, days: { enum: [1, 2, 3] } }, required: ['city', 'days'], additionalProperties: false } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object',
    properties: { zone: { enum: ['UTC', 'CET'] } }, required: ['zone'], additionalProperties: false } } },
];

async function post(body) {
  const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                        body: JSON.stringify(body) });
  return r;
}

async function main() {
  const choices = [{ type: 'function', function: { name: 'get_weather' } }, 'required'];
  const names = new Set();
  for (const tool_choice of choices) {
    for (const seed of [1, 2, 3]) {
      const req = { messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice, max_tokens: 100,
                    temperature: 1, seed };
      const whole = await (await post(req)).json();
      const c = whole.choices[0];
      assert.strictEqual(c.finish_reason, 'tool_calls', JSON.stringify(whole));
      assert.strictEqual(c.message.content, null);
      assert.strictEqual(c.message.tool_calls.length, 1);
      const call = c.message.tool_calls[0].function;
      const args = JSON.parse(call.arguments);
      if (call.name === 'get_weather') assert.ok(['Paris', 'Rome'].includes(args.city), call.arguments);
      else assert.ok(tool_choice === 'required' && call.name === 'get_time' && ['UTC', 'CET'].includes(args.zone), call.arguments);
      names.add(call.name);

      const text = await (await post({ ...req, stream: true })).text();
      let name = null, streamed = '';
      for (const line of text.split('\n\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const delta = JSON.parse(line.slice(6)).choices[0].delta;
        assert.ok(!delta.content, line);
        for (const d of delta.tool_calls || []) {
          if (d.id) name = d.function.name;
          else streamed += d.function.arguments;
        }
      }
      assert.deepStrictEqual([name, streamed], [call.name, call.arguments]);
      console.log(`ok: ${JSON.stringify(tool_choice)} seed ${seed}: ${call.name}(${call.arguments}), streamed alike`);
    }
  }
  assert.ok(names.has('get_weather'));
}

main().then(() => console.log('harmony_tools: ok'), (e) => { console.error(e); process.exit(1); });
