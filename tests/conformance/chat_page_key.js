// The chat page of `frugal serve --api-key KEY` in headless chromium: the
// page says the server needs a key and sends none it was not given; a wrong
// key is refused; the right one, typed into the page's key field, goes as
// "Authorization: Bearer KEY" on its requests and a message is answered; the
// key is still there after a reload (the browser's storage for this server)
// and is gone once the field is emptied.
// Usage: node chat_page_key.js BASE_URL CHROMIUM KEY
'use strict';
const { chromium } = require('playwright-core');

const [base, executable, apiKey] = process.argv.slice(2);
if (!base || !executable || !apiKey) {
  console.error('usage: node chat_page_key.js BASE_URL CHROMIUM KEY');
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`FAIL: ${what}`);
  console.log(`ok: ${what}`);
}

async function main() {
  const browser = await chromium.launch({ executablePath: executable, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20000);
    const sent = [];  // the Authorization header of each API request
    page.on('request', r => { if (r.url().includes('/v1/')) sent.push(r.headers()['authorization'] || null); });
    const model = () => page.textContent('#model');

    await page.goto(base + '/');
    await page.waitForFunction(() => document.getElementById('model').textContent !== 'loading...');
    check((await model()) === 'this server needs an API key', `without a key the page says so: "${await model()}"`);
    check(sent.every(h => h === null), 'no Authorization header was sent without a key');

    await page.fill('#input', 'hello');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.msg.error');
    check(/API key/.test(await page.textContent('.msg.error')), `a message without the key gets the server's error: "${await page.textContent('.msg.error')}"`);

    await page.fill('#key', 'sk-wrong');
    await page.dispatchEvent('#key', 'change');
    await page.waitForFunction(() => document.getElementById('model').textContent === 'the API key was refused');
    check(sent[sent.length - 1] === 'Bearer sk-wrong', 'a wrong key is sent as Bearer and refused');

    await page.fill('#key', apiKey);
    await page.dispatchEvent('#key', 'change');
    await page.waitForFunction(() => /\(context \d+\)$/.test(document.getElementById('model').textContent));
    check(true, `with the key the model is named: "${await model()}"`);
    await page.fill('#max', '8');
    await page.fill('#input', 'hello again');
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => /^\d+ tokens in/.test(document.getElementById('speed').textContent));
    check(sent[sent.length - 1] === `Bearer ${apiKey}`, 'the message went with the key as Bearer and was answered');

    await page.reload();
    await page.waitForFunction(() => /\(context \d+\)$/.test(document.getElementById('model').textContent));
    check((await page.inputValue('#key')) === apiKey, 'after a reload the key is still in the field and the model loads');

    await page.fill('#key', '');
    await page.dispatchEvent('#key', 'change');
    await page.reload();
    await page.waitForFunction(() => document.getElementById('model').textContent === 'this server needs an API key');
    check((await page.inputValue('#key')) === '', 'an emptied field forgets the key');
  } finally {
    await browser.close();
  }
}

main().then(() => console.log('chat_page_key: ok'), e => { console.error(e.message); process.exit(1); });
