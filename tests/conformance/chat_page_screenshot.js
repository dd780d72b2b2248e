// A picture of frugal serve's chat page for the docs (docs/chat-page.png):
// headless chromium sends each message in turn, waits for its whole answer
// and saves the page. Not a test; chat_page_browser.js checks the page.
// Usage: node chat_page_screenshot.js BASE_URL CHROMIUM OUT.png MAX_TOKENS MESSAGE...
'use strict';
const { chromium } = require('playwright-core');

const [base, executable, out, max_tokens, ...messages] = process.argv.slice(2);
if (!base || !executable || !out || !/^\d+$/.test(max_tokens || '') || !messages.length) {
  console.error('usage: node chat_page_screenshot.js BASE_URL CHROMIUM OUT.png MAX_TOKENS MESSAGE...');
  process.exit(2);
}

(async () => {
  const browser = await chromium.launch({ executablePath: executable, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 520 } });
    page.setDefaultTimeout(60000);
    await page.goto(base + '/');
    await page.waitForFunction(() => document.getElementById('model').textContent !== 'loading...');
    await page.fill('#max', max_tokens);
    for (let i = 0; i < messages.length; ++i) {
      await page.fill('#input', messages[i]);
      await page.press('#input', 'Enter');
      // Answered once its bubble is there and Stop is off again.
      await page.waitForFunction(n => document.querySelectorAll('.msg.assistant').length === n &&
                                      document.getElementById('stop').disabled, i + 1);
    }
    await page.screenshot({ path: out });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
})().catch(e => { console.error(e.message); process.exit(1); });
