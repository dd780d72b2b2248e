#include "server/chat_page.h"

namespace frugal::server {

const std::string& chat_page_html() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>frugal chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: 8px 14px; background: #234; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header small { opacity: .75; }
  #log { flex: 1; overflow-y: auto; padding: 14px; }
  .msg { max-width: 52em; margin: 0 0 10px; padding: 8px 12px; border-radius: 8px; white-space: pre-wrap; }
  .user { background: #e6eef7; margin-left: auto; }
  .assistant { background: #f2f2f2; }
  .error { background: #fbe3e3; }
  .stopped { border-right: 3px solid #c90; }
  form { display: flex; gap: 8px; padding: 10px 14px; border-top: 1px solid #ddd; }
  textarea { flex: 1; font: inherit; height: 3.2em; }
  label { font-size: 13px; }
  input[type=number] { width: 4.5em; }
  #keybox { margin-left: auto; font-size: 13px; }
  #keybox input { width: 14em; }
</style>
</head>
<body>
<header><b>frugal</b><small id="model">loading...</small><small id="speed"></small>
<label id="keybox">API key <input id="key" type="password" autocomplete="off" placeholder="only if the server asks"></label></header>
<div id="log"></div>
<form id="form">
  <textarea id="input" placeholder="Message (Enter sends, Shift+Enter is a new line)"></textarea>
  <div>
    <label>temperature <input id="temp" type="number" value="0.8" step="0.1" min="0"></label><br>
    <label>max tokens <input id="max" type="number" value="256" min="1"></label><br>
    <button id="send">Send</button> <button id="stop" type="button" disabled>Stop</button>
    <button id="reset" type="button">Reset</button>
  </div>
</form>
<script>
const log = document.getElementById('log'), input = document.getElementById('input');
const stop = document.getElementById('stop'), key = document.getElementById('key');
let history = [], busy = false, controller = null;
// A server started with --api-key wants "Authorization: Bearer KEY" on every
// request: the key typed here is sent so, and kept in this browser's storage
// for this server (cleared by emptying the field).
key.value = localStorage.getItem('frugal-api-key') || '';
function auth() { return key.value.trim() ? {Authorization: 'Bearer ' + key.value.trim()} : {}; }
function load_model() {
  const label = document.getElementById('model');
  fetch('/v1/models', {headers: auth()}).then(async r => {
    if (r.status === 401) {
      label.textContent = key.value.trim() ? 'the API key was refused' : 'this server needs an API key';
      key.focus();
      return;
    }
    const m = (await r.json()).data[0];
    label.textContent = m.id + ' (context ' + m.meta.n_ctx + ')';
  });
}
key.addEventListener('change', () => {
  if (key.value.trim()) localStorage.setItem('frugal-api-key', key.value.trim());
  else localStorage.removeItem('frugal-api-key');
  load_model();
});
load_model();
function bubble(role, text) {
  const d = document.createElement('div');
  d.className = 'msg ' + role;
  d.textContent = text;
  log.appendChild(d);
  log.scrollTop = log.scrollHeight;
  return d;
}
async function send() {
  const text = input.value.trim();
  if (!text || busy) return;
  busy = true;
  input.value = '';
  history.push({role: 'user', content: text});
  bubble('user', text);
  const out = bubble('assistant', '');
  const t0 = performance.now();
  let n = 0, answer = '';
  // Stop aborts the stream: the server sees the connection close and
  // cancels the request at its next token; what came so far is kept.
  controller = new AbortController();
  stop.disabled = false;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: {'Content-Type': 'application/json', ...auth()}, signal: controller.signal,
      body: JSON.stringify({messages: history, stream: true, stream_options: {include_usage: true},
                            temperature: +document.getElementById('temp').value,
                            max_tokens: +document.getElementById('max').value})});
    if (!res.ok) throw new Error((await res.json()).error.message);
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let k;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, k); buf = buf.slice(k + 2);
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const j = JSON.parse(line.slice(6));
        if (j.error) throw new Error(j.error.message);
        if (j.usage) n = j.usage.completion_tokens;
        const c = j.choices && j.choices[0] && j.choices[0].delta.content;
        if (c) { answer += c; n++; out.textContent = answer; log.scrollTop = log.scrollHeight; }
      }
    }
    history.push({role: 'assistant', content: answer});
    const s = (performance.now() - t0) / 1000;
    document.getElementById('speed').textContent = n + ' tokens in ' + s.toFixed(1) + ' s';
  } catch (e) {
    if (e.name === 'AbortError') {
      history.push({role: 'assistant', content: answer});
      out.classList.add('stopped');
      const s = (performance.now() - t0) / 1000;
      document.getElementById('speed').textContent = 'stopped after ' + n + ' tokens in ' + s.toFixed(1) + ' s';
    } else {
      history.pop();
      out.className = 'msg error';
      out.textContent = e.message;
    }
  }
  controller = null;
  stop.disabled = true;
  busy = false;
}
stop.addEventListener('click', () => { if (controller) controller.abort(); });
document.getElementById('form').addEventListener('submit', e => { e.preventDefault(); send(); });
input.addEventListener('keydown', e => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } });
document.getElementById('reset').addEventListener('click', () => { history = []; log.textContent = ''; });
</script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace frugal::server
