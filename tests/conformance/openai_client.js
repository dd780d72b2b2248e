// frugal serve read by the official OpenAI Node client (npm "openai"): every
// call a user of that client makes against an OpenAI-compatible server must
// parse, streams must assemble into the same text as the whole answer, and a
// bad request must surface as the client's BadRequestError with its param.
// Usage: node openai_client.js BASE_URL [API_KEY]   (BASE_URL like http://127.0.0.1:PORT/v1;
// with API_KEY the server was started with --api-key API_KEY, and a wrong key
// must surface as the client's AuthenticationError)
const OpenAI = require("openai");
const assert = require("assert");

async function main() {
  const key = process.argv[3] || "unused";
  const client = new OpenAI({ baseURL: process.argv[2], apiKey: key, maxRetries: 0, timeout: 60000 });

  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.length >= 1, "no models listed");
  const model = ids[0];
  const retrieved = await client.models.retrieve(model);
  assert.strictEqual(retrieved.id, model);
  assert.strictEqual(retrieved.object, "model");
  try {
    await client.models.retrieve("no-such-model");
    assert.fail("retrieved a model that is not served");
  } catch (e) {
    assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
    assert.strictEqual(e.code, "model_not_found");
  }
  if (process.argv[3]) {
    const stranger = new OpenAI({ baseURL: process.argv[2], apiKey: "sk-wrong", maxRetries: 0, timeout: 60000 });
    try {
      await stranger.completions.create({ model, prompt: "x", max_tokens: 1 });
      assert.fail("a wrong API key was accepted");
    } catch (e) {
      assert.ok(e instanceof OpenAI.AuthenticationError, `${e}`);
      assert.strictEqual(e.code, "invalid_api_key");
    }
  }

  // Completions: whole and streamed, greedy, must agree token for token.
  const prompt = "The secret of happiness is";
  const whole = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0 });
  assert.strictEqual(whole.object, "text_completion");
  const text = whole.choices[0].text;
  assert.ok(text.length > 0, "empty completion");
  assert.ok(["stop", "length"].includes(whole.choices[0].finish_reason), whole.choices[0].finish_reason);
  assert.ok(whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0, JSON.stringify(whole.usage));
  assert.strictEqual(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);

  let streamed = "", finish = null, usage = null;
  const s1 = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0, stream: true,
                                               stream_options: { include_usage: true } });
  for await (const chunk of s1) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      streamed += c.text || "";
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.strictEqual(streamed, text, "streamed completion differs from the whole one");
  assert.strictEqual(finish, whole.choices[0].finish_reason);
  assert.deepStrictEqual(usage, whole.usage, "streamed usage differs");

  // Chat completions: whole and streamed.
  const messages = [{ role: "system", content: "You answer briefly." }, { role: "user", content: "Tell me a fortune." }];
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0 });
  assert.strictEqual(chat.object, "chat.completion");
  const answer = chat.choices[0].message;
  assert.strictEqual(answer.role, "assistant");
  assert.ok(typeof answer.content === "string" && answer.content.length > 0, "empty chat answer");

  let deltas = "", role = null;
  const s2 = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0, stream: true });
  for await (const chunk of s2) {
    assert.strictEqual(chunk.object, "chat.completion.chunk");
    for (const c of chunk.choices) {
      if (c.delta.role) role = c.delta.role;
      deltas += c.delta.content || "";
    }
  }
  assert.strictEqual(role, "assistant");
  assert.strictEqual(deltas, answer.content, "streamed chat differs from the whole answer");

  // The same seed gives the same sampled answer.
  const seeded = { model, prompt: "A fool", max_tokens: 16, temperature: 1, seed: 42 };
  const a = await client.completions.create(seeded);
  const b = await client.completions.create(seeded);
  assert.strictEqual(a.choices[0].text, b.choices[0].text, "same seed, different text");

  // Log-probabilities, chat form: one entry per token, the streamed entries
  // the whole answer's, each with its bytes.
  const lpReq = { model, messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 2 };
  const lpWhole = await client.chat.completions.create(lpReq);
  const entries = lpWhole.choices[0].logprobs.content;
  assert.ok(entries.length >= 1, "no logprobs");
  for (const t of entries) {
    assert.ok(t.logprob <= 0 && t.top_logprobs.length === 2, JSON.stringify(t));
    assert.strictEqual(t.token, t.top_logprobs[0].token, "greedy: the drawn token is the most likely");
    assert.ok(Array.isArray(t.bytes));
  }
  const lpStreamed = [];
  for await (const chunk of await client.chat.completions.create({ ...lpReq, stream: true }))
    for (const c of chunk.choices) if (c.logprobs) lpStreamed.push(...c.logprobs.content);
  assert.deepStrictEqual(lpStreamed, entries, "streamed logprobs differ");
  // Completions form: tokens that make up the text, with offsets.
  const lpText = await client.completions.create({ model, prompt, max_tokens: 8, temperature: 0, logprobs: 3 });
  const l = lpText.choices[0].logprobs;
  assert.strictEqual(l.tokens.join(""), lpText.choices[0].text);
  assert.strictEqual(l.text_offset[0], 0);
  assert.ok(l.top_logprobs.every((t) => Object.keys(t).length <= 3));

  // n choices: whole and streamed agree per index; choice 0 is the n = 1 answer.
  const nReq = { model, prompt: "A fool", max_tokens: 8, temperature: 1, seed: 9, n: 2 };
  const nWhole = await client.completions.create(nReq);
  assert.deepStrictEqual(nWhole.choices.map((c) => c.index), [0, 1]);
  const single = await client.completions.create({ ...nReq, n: 1 });
  assert.strictEqual(nWhole.choices[0].text, single.choices[0].text);
  const nTexts = ["", ""];
  for await (const chunk of await client.completions.create({ ...nReq, stream: true }))
    for (const c of chunk.choices) nTexts[c.index] += c.text || "";
  assert.deepStrictEqual(nTexts, nWhole.choices.map((c) => c.text), "streamed choices differ");

  // Structured output: a strict JSON schema, whole and streamed, always parses and matches.
  const schema = {
    type: "object",
    properties: { name: { type: "string", maxLength: 5 }, age: { type: "integer" },
                  mood: { enum: ["happy", "sad"] } },
    required: ["name", "age", "mood"], additionalProperties: false,
  };
  const format = { type: "json_schema", json_schema: { name: "person", strict: true, schema } };
  const check = (text) => {
    const v = JSON.parse(text);
    assert.deepStrictEqual(Object.keys(v).sort(), ["age", "mood", "name"], text);
    assert.ok(typeof v.name === "string" && [...v.name].length <= 5, text);
    assert.ok(Number.isInteger(v.age) && ["happy", "sad"].includes(v.mood), text);
  };
  for (const seed of [1, 2, 3]) {
    const sReq = { model, messages, max_tokens: 80, temperature: 1, seed, response_format: format };
    const sWhole = await client.chat.completions.create(sReq);
    assert.strictEqual(sWhole.choices[0].finish_reason, "stop");
    check(sWhole.choices[0].message.content);
    let sText = "";
    for await (const chunk of await client.chat.completions.create({ ...sReq, stream: true }))
      for (const c of chunk.choices) sText += c.delta.content || "";
    assert.strictEqual(sText, sWhole.choices[0].message.content);
    check(sText);
  }

  // Tools: a named function forced, whole and streamed as tool_calls deltas
  // (id and name first, then the arguments), and a tool result sent back.
  const tools = [{ type: "function", function: { name: "get_weather", description: "The weather in a city",
    parameters: { type: "object", properties: { city: { enum: ["Paris", "Rome"] }, days: { type: "integer" } },
                  required: ["city", "days"], additionalProperties: false } } }];
  const tReq = { model, messages: [{ role: "user", content: "Weather in Paris?" }], tools, max_tokens: 200,
                 temperature: 1, seed: 5, tool_choice: { type: "function", function: { name: "get_weather" } } };
  const tWhole = await client.chat.completions.create(tReq);
  assert.strictEqual(tWhole.choices[0].finish_reason, "tool_calls");
  const call = tWhole.choices[0].message.tool_calls[0];
  assert.ok(call.id.startsWith("call_") && call.type === "function", JSON.stringify(call));
  assert.strictEqual(call.function.name, "get_weather");
  const args = JSON.parse(call.function.arguments);
  assert.ok(["Paris", "Rome"].includes(args.city) && Number.isInteger(args.days), call.function.arguments);
  // Streamed, each call's first delta has its index, id, type and name with
  // arguments "", and its arguments follow in fragments as they are written;
  // put together they are the whole answer's call.
  const accumulate = async (req) => {
    const calls = [];
    let finish = null, fragments = 0;
    for await (const chunk of await client.chat.completions.create({ ...req, stream: true }))
      for (const c of chunk.choices) {
        if (c.finish_reason) finish = c.finish_reason;
        assert.ok(!c.delta.content, JSON.stringify(c.delta));  // no marker text leaks as content
        for (const d of c.delta.tool_calls || []) {
          if (!calls[d.index]) {
            assert.ok(d.id.startsWith("call_") && d.type === "function" && d.function.arguments === "", JSON.stringify(d));
            calls[d.index] = { id: d.id, name: d.function.name, arguments: "" };
          } else {
            assert.ok(d.id === undefined && d.function.name === undefined, JSON.stringify(d));
            calls[d.index].arguments += d.function.arguments;
            fragments++;
          }
        }
      }
    return { calls, finish, fragments };
  };
  const tStreamed = await accumulate(tReq);
  assert.strictEqual(tStreamed.finish, "tool_calls");
  assert.strictEqual(tStreamed.calls.length, 1);
  assert.ok(tStreamed.fragments > 1, "arguments in one piece");
  assert.deepStrictEqual([tStreamed.calls[0].name, tStreamed.calls[0].arguments], [call.function.name, call.function.arguments]);
  // The client's own stream helper puts the deltas together the same way.
  const helper = await client.beta.chat.completions.stream(tReq).finalChatCompletion();
  const hCall = helper.choices[0].message.tool_calls[0];
  assert.deepStrictEqual([hCall.function.name, hCall.function.arguments], [call.function.name, call.function.arguments]);
  // "required" with two tools: the model picks one; streamed equals whole.
  const twoTools = [...tools, { type: "function", function: { name: "get_time",
    parameters: { type: "object", properties: { zone: { enum: ["UTC", "CET"] } }, required: ["zone"] } } }];
  const rReq = { ...tReq, tools: twoTools, tool_choice: "required", seed: 2 };
  const rWhole = (await client.chat.completions.create(rReq)).choices[0].message.tool_calls[0];
  assert.ok(["get_weather", "get_time"].includes(rWhole.function.name), JSON.stringify(rWhole));
  JSON.parse(rWhole.function.arguments);
  const rStreamed = await accumulate(rReq);
  assert.deepStrictEqual([rStreamed.calls[0].name, rStreamed.calls[0].arguments], [rWhole.function.name, rWhole.function.arguments]);
  const followUp = await client.chat.completions.create({
    model, max_tokens: 8, tools, tool_choice: "none",
    messages: [...tReq.messages, tWhole.choices[0].message,
               { role: "tool", tool_call_id: call.id, content: "18 C, sunny" }] });
  assert.ok(!followUp.choices[0].message.tool_calls, JSON.stringify(followUp.choices[0].message));

  // echo with logprobs scores the prompt: its first token null, the others numbers.
  const scored = await client.completions.create({ model, prompt, max_tokens: 0, echo: true, logprobs: 1 });
  const lp = scored.choices[0].logprobs;
  assert.strictEqual(scored.choices[0].text, prompt);
  assert.strictEqual(lp.token_logprobs[0], null);
  assert.ok(lp.token_logprobs.length > 1 && lp.token_logprobs.slice(1).every((x) => x <= 0), JSON.stringify(lp));
  assert.strictEqual(lp.tokens.length, lp.text_offset.length);

  // Bad requests are the client's BadRequestError, naming the field.
  for (const [body, param] of [[{ model, prompt, temperature: 7e3 }, "temperature"],
                               [{ model, prompt, n: 3 }, "n"],
                               [{ model, prompt: "" }, "prompt"],
                               [{ model, prompt, logprobs: 50 }, "logprobs"],
                               [{ model, prompt, response_format: { type: "json_schema",
                                   json_schema: { name: "x", schema: { type: "string", pattern: "a" } } } },
                                "response_format"]]) {
    try {
      await client.completions.create(body);
      assert.fail("accepted " + JSON.stringify(body));
    } catch (e) {
      assert.ok(e instanceof OpenAI.BadRequestError, `${param}: ${e}`);
      assert.strictEqual(e.status, 400);
      assert.strictEqual(e.param, param, JSON.stringify(e.error));
    }
  }
  console.log(JSON.stringify({ model, completion: text, chat: answer.content }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
