// The chat page of `frugal serve` in a real browser (Debian's chromium,
// headless, driven by playwright-core): the page loads under its
// Content-Security-Policy with no error, a message streams in (the answer
// seen growing; the requests ask to ignore the end token, which a random
// model samples early), Stop ends it (the server counts the request
// cancelled and answers the next one), and markup in an answer or a message stays text:
// an answer holding <script> and <img onerror> (sent to the page as the
// server would stream it; a random-weight model cannot be made to write it)
// adds no element to the page and runs nothing.
// Usage: node chat_page_browser.js BASE_URL CHROMIUM [SCREENSHOT.png]
'use strict';
const { chromium } = require('playwright-core');

const [base, executable, screenshot] = process.argv.slice(2);
if (!base || !executable) {
  console.error('usage: node chat_page_browser.js BASE_URL CHROMIUM [SCREENSHOT.png]');
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(`FAIL: ${what}`);
  console.log(`ok: ${what}`);
}

async function metric(name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^frugal_${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

const hostile = 'Sure: <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">' +
                '<b>bold?</b> &amp; done';

async function main() {
  const browser = await chromium.launch({ executablePath: executable, headless: true, args: ['--no-sandbox'] });
  let page = null;
  try {
    page = await browser.newPage({ viewport: { width: 960, height: 640 } });
    page.setDefaultTimeout(20000);
    const problems = [];
    page.on('pageerror', e => problems.push(`page error: ${e.message}`));
    page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });

    const response = await page.goto(base + '/');
    const policy = response.headers()['content-security-policy'] || '';
    check(/default-src 'none'/.test(policy) && /connect-src 'self'/.test(policy),
          `the page comes with a Content-Security-Policy (${policy.split(';')[0]}; ...)`);
    await page.waitForFunction(() => document.getElementById('model').textContent !== 'loading...');
    check(true, `the model is named: ${await page.textContent('#model')}`);

    // A message whose answer streams: lengths seen by the page as it grows.
    // A random-weight model soon samples its end token: the page's requests
    // get ignore_eos, so that the answer runs on until Stop.
    const long_answers = route => {
      const body = { ...JSON.parse(route.request().postData()), ignore_eos: true };
      return route.continue({ postData: JSON.stringify(body) });
    };
    await page.route('**/v1/chat/completions', long_answers);
    // The page's own observer presses Stop once it has seen the answer grow
    // three times: from outside, a poll could come too late for a model this
    // fast (about a thousand tokens a second). The answer may run to 30,000
    // tokens, so that it is still under way however late a loaded machine
    // lets the page read it.
    await page.evaluate(() => {
      window.__lengths = [];
      new MutationObserver(() => {
        const a = document.querySelector('.msg.assistant');
        if (!a || window.__stop_enabled !== undefined) return;
        window.__lengths.push(a.textContent.length);
        if (new Set(window.__lengths.filter(n => n > 0)).size >= 3) {
          const stop = document.getElementById('stop');
          window.__stop_enabled = !stop.disabled;
          stop.click();
        }
      }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
    });
    const cancelled_before = await metric('requests_cancelled_total');
    await page.fill('#max', '30000');
    await page.fill('#input', 'Tell me a <b>long</b> story');
    await page.press('#input', 'Enter');
    await page.waitForSelector('.msg.assistant.stopped');
    check(await page.evaluate(() => window.__stop_enabled), 'Stop is enabled while the answer streams');
    const seen = await page.evaluate(() => window.__lengths.filter(n => n > 0));
    check(new Set(seen).size >= 3, `the answer was seen growing (${seen.join(', ')} characters), then stopped`);
    check(await page.isDisabled('#stop'), 'Stop is disabled once the answer stopped');
    const speed = await page.textContent('#speed');
    check(/^stopped after \d+ tokens/.test(speed), `the page says so: "${speed}"`);
    const stopped_at = (await page.textContent('.msg.assistant.stopped')).length;
    let cancelled = cancelled_before;
    for (let i = 0; i < 100 && cancelled === cancelled_before; ++i) {
      await new Promise(r => setTimeout(r, 100));
      cancelled = await metric('requests_cancelled_total');
    }
    check(cancelled === cancelled_before + 1, 'the server cancelled the request (requests_cancelled_total + 1)');
    check((await page.textContent('.msg.assistant.stopped')).length === stopped_at, 'nothing was added after Stop');
    check((await page.textContent('.msg.user')) === 'Tell me a <b>long</b> story' &&
          (await page.$$('#log b')).length === 0, 'the message with markup is shown as text');

    // The next message is answered in full (a short one). Its prompt holds the
    // stopped answer, thousands of tokens the later a loaded machine let the
    // page press Stop (CI once: 1,487 tokens, 23,477 characters, whose prompt
    // took the one-thread server over 20 s): the wait allows for that.
    await page.fill('#max', '12');
    await page.fill('#input', 'And now a short one');
    await page.click('#send');
    await page.waitForFunction(() => /^\d+ tokens in/.test(document.getElementById('speed').textContent), null,
                               { timeout: 120000 });
    const answers = await page.$$('.msg.assistant');
    check(answers.length === 2 && (await answers[1].textContent()).length > 0,
          `the next message is answered whole: "${await page.textContent('#speed')}"`);
    if (screenshot) await page.screenshot({ path: screenshot });

    await page.unroute('**/v1/chat/completions', long_answers);

    // An answer holding markup, streamed to the page as the server sends
    // answers (server-sent events, split mid-tag, then usage and [DONE]).
    await page.route('**/v1/chat/completions', route => {
      const chunk = (delta) => `data: ${JSON.stringify({ choices: [{ index: 0, delta }] })}\n\n`;
      const parts = [hostile.slice(0, 20), hostile.slice(20, 50), hostile.slice(50)];
      const body = chunk({ role: 'assistant', content: '' }) + parts.map(p => chunk({ content: p })).join('') +
                   `data: ${JSON.stringify({ choices: [], usage: { completion_tokens: 3 } })}\n\ndata: [DONE]\n\n`;
      route.fulfill({ status: 200, headers: { 'Content-Type': 'text/event-stream' }, body });
    });
    await page.fill('#input', 'Say something with <img src=x onerror="window.__pwned = 3">');
    await page.click('#send');
    await page.waitForFunction(() => document.querySelectorAll('.msg.assistant').length === 3 &&
                                     /^3 tokens in/.test(document.getElementById('speed').textContent));
    const last = (await page.$$('.msg.assistant'))[2];
    check((await last.textContent()) === hostile, 'the answer with <script> and <img onerror> is shown as its text');
    check((await page.$$('#log script, #log img, #log b')).length === 0, 'no element was made of it');
    await new Promise(r => setTimeout(r, 300));  // an image error would have fired by now
    check((await page.evaluate(() => window.__pwned)) === undefined, 'nothing in it ran');
    check(problems.length === 0, `no page errors or console errors${problems.length ? ': ' + problems.join('; ') : ''}`);
  } catch (e) {
    // What the page showed, to tell a failed request from a slow one.
    if (page) e.message += `\npage log (end): ${JSON.stringify((await page.textContent("#log").catch(() => "?")).slice(-300))}` +
                           `\nstatus: ${JSON.stringify(await page.textContent('#speed').catch(() => '?'))}`;
    throw e;
  } finally {
    await browser.close();
  }
}

main().then(() => console.log('chat_page_browser: ok'), e => { console.error(e.message); process.exit(1); });
