// The maskgate dashboard: live exchanges, pattern switches, gateway settings.
// One page, two shells: in the desktop window it talks to Rust through Tauri's IPC
// (window.__TAURI__); in a browser against `maskgate --headless --dashboard` it calls the same
// commands over HTTP on its own origin, with the token from the address maskgate printed.
// No other network, no CDN.

const tauri = window.__TAURI__;
const $ = (selector) => document.querySelector(selector);

const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? sessionStorage.getItem('maskgate-token');
if (!tauri && token) {
  // Kept for this tab only, and out of the address bar (and so out of history and bookmarks).
  sessionStorage.setItem('maskgate-token', token);
  history.replaceState(null, '', location.pathname);
}
const authorization = { authorization: `Bearer ${token}` };

async function invoke(cmd, args) {
  if (tauri) return tauri.core.invoke(cmd, args);
  const response = await fetch(`/api/${cmd}`, {
    method: 'POST', headers: { ...authorization, 'content-type': 'application/json' }, body: JSON.stringify(args ?? {}),
  });
  const answer = await response.json();
  if (!response.ok) throw answer; // { message }, as Tauri rejects
  return answer;
}

// Events: Tauri's, or the server-sent events of /api/events (read with fetch, which can send
// the token header), reconnecting after a second when the stream ends.
const handlers = {};
function listen(name, callback) {
  if (tauri) tauri.event.listen(name, callback); else handlers[name] = callback;
}
async function followEvents() {
  for (;;) {
    try {
      const response = await fetch('/api/events', { headers: authorization });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const fields = Object.fromEntries(buffer.slice(0, end).split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
          buffer = buffer.slice(end + 2);
          if (fields.event && handlers[fields.event]) handlers[fields.event]({ payload: JSON.parse(fields.data) });
        }
      }
    } catch (e) { console.warn('event stream', e); }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const state = { rows: [], selected: null, detail: null, raw: false, kinds: [], status: null, totals: {} };
const ROW_HEIGHT = 28; // px; every row of the live list has this height (style.css), so only the visible ones are built

// ---- tabs -------------------------------------------------------------------------------
for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener('click', () => {
    for (const other of document.querySelectorAll('[role="tab"]')) {
      other.setAttribute('aria-selected', String(other === tab));
      $('#' + other.dataset.tab).hidden = other !== tab;
    }
    if (tab.dataset.tab === 'patterns') loadKinds();
    if (tab.dataset.tab === 'settings') loadSettings();
  });
}

// ---- status -----------------------------------------------------------------------------
function showStatus(status) {
  state.status = status;
  const pill = $('#status');
  pill.className = 'pill ' + status.state;
  pill.textContent = {
    running: () => `masking on ${status.address}`,
    paused: () => 'paused',
    starting: () => 'starting…',
    error: () => status.message,
  }[status.state]();
  $('#toggle').textContent = status.state === 'running' ? 'Pause' : 'Resume';
  if (status.state === 'running') $('#empty-line').textContent = `export ANTHROPIC_BASE_URL=http://${status.address}`;
}
$('#toggle').addEventListener('click', () => invoke(state.status?.state === 'running' ? 'pause' : 'resume'));

// ---- live list --------------------------------------------------------------------------
const fmtTime = (ms) => new Date(ms).toLocaleTimeString();
const fmtSize = (n) => (n > 1048576 ? (n / 1048576).toFixed(1) + ' MB' : n > 1024 ? (n / 1024).toFixed(0) + ' KB' : n + ' B');
const countsText = (counts) => Object.entries(counts).map(([k, n]) => `${k}×${n}`).join(' ');

function matchesFilter(row, filter) {
  if (!filter) return true;
  const hay = [row.path, row.model, row.status, row.outcome, countsText(row.counts), row.error].join(' ').toLowerCase();
  return filter.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

function renderRows() {
  const filter = $('#filter').value.trim();
  const list = $('.list');
  const shown = state.rows.filter((r) => matchesFilter(r, filter));
  // A virtual list: rows outside the scrolled window are two spacers of the right height.
  const first = firstBuiltRow(list);
  state.firstBuilt = first;
  const visible = shown.slice(first, first + Math.ceil(list.clientHeight / ROW_HEIGHT) + 30);
  const fragment = document.createDocumentFragment();
  const spacer = (rows) => {
    const tr = document.createElement('tr');
    tr.className = 'spacer';
    tr.setAttribute('aria-hidden', 'true');
    const td = document.createElement('td');
    td.colSpan = 7;
    td.style.height = `${rows * ROW_HEIGHT}px`;
    tr.append(td);
    return tr;
  };
  if (first > 0) fragment.append(spacer(first));
  for (const row of visible) {
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    tr.dataset.id = row.id;
    if (row.id === state.selected) tr.className = 'selected';
    for (const text of [fmtTime(row.started_unix_ms), row.path, row.model ?? '', row.status ?? row.outcome,
      row.latency_ms != null ? row.latency_ms.toFixed(0) : '…', fmtSize(row.request_bytes), row.masked_total ? `${row.masked_total} (${countsText(row.counts)})` : '0']) {
      const td = document.createElement('td');
      td.textContent = String(text);
      td.title = td.textContent;
      tr.append(td);
    }
    tr.addEventListener('click', () => select(row.id));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') select(row.id); });
    fragment.append(tr);
  }
  const after = shown.length - first - visible.length;
  if (after > 0) fragment.append(spacer(after));
  $('#exchanges tbody').replaceChildren(fragment);
  $('#empty').hidden = state.rows.length > 0;
  $('#totals').textContent = `${shown.length} of ${state.rows.length} shown`;
  renderTotals();
}

// Identifiers masked this session, per category, newest kinds included as they appear.
function renderTotals() {
  const chips = Object.entries(state.totals).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([kind, n]) => {
    const chip = document.createElement('button');
    chip.type = 'button';
    chip.className = 'chip';
    chip.style.setProperty('--h', hue(kind));
    chip.textContent = `${kind} ${n}`;
    chip.title = `Show the exchanges that masked ${kind}`;
    chip.addEventListener('click', () => { $('#filter').value = kind; renderRows(); });
    return chip;
  });
  $('#kind-totals').replaceChildren(...chips);
}
// Rebuilt on scroll only when the window of built rows moves (a scroll that brings a row into
// view for a click must not replace the row being clicked).
function firstBuiltRow(list) { return Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT / 10) * 10 - 10); }
$('.list').addEventListener('scroll', (e) => { if (firstBuiltRow(e.target) !== state.firstBuilt) scheduleRender(); });
$('#filter').addEventListener('input', renderRows);

function upsert(summary) {
  const at = state.rows.findIndex((r) => r.id === summary.id);
  if (at >= 0) state.rows[at] = summary;
  else {
    state.rows.unshift(summary);
    for (const [kind, n] of Object.entries(summary.counts)) state.totals[kind] = (state.totals[kind] ?? 0) + n;
  }
  scheduleRender();
  if (summary.id === state.selected) select(summary.id);
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => { renderPending = false; renderRows(); });
}

// ---- detail: the masked request as a conversation, tokens highlighted -------------------
const hue = (kind) => [...kind].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);

function highlight(text, tokens) {
  const fragment = document.createDocumentFragment();
  if (!tokens.length) { fragment.append(text); return fragment; }
  const byToken = new Map(tokens.map((t) => [t.token, t]));
  const pattern = new RegExp(tokens.map((t) => t.token).sort((a, b) => b.length - a.length).join('|') + '(?!\\d)', 'g');
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    fragment.append(text.slice(last, m.index));
    const entry = byToken.get(m[0]);
    const mark = document.createElement('mark');
    mark.className = 'tok';
    mark.textContent = m[0];
    mark.style.setProperty('--h', hue(entry.kind));
    mark.title = `${entry.kind}: ${entry.original}`;
    mark.dataset.original = entry.original;
    mark.tabIndex = 0;
    mark.addEventListener('click', () => mark.classList.toggle('revealed'));
    fragment.append(mark);
    last = m.index + m[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

function block(role, text, tokens) {
  const div = document.createElement('div');
  div.className = 'block';
  const label = document.createElement('div');
  label.className = 'role';
  label.textContent = role;
  const pre = document.createElement('pre');
  pre.append(highlight(text, tokens));
  div.append(label, pre);
  return div;
}

function contentBlocks(role, content, tokens, out) {
  if (typeof content === 'string') { out.push(block(role, content, tokens)); return; }
  for (const b of content ?? []) {
    if (b.type === 'text') out.push(block(`${role} · text`, b.text, tokens));
    else if (b.type === 'tool_use') out.push(block(`${role} · tool_use ${b.name}`, JSON.stringify(b.input, null, 2), tokens));
    else if (b.type === 'tool_result') {
      const text = typeof b.content === 'string' ? b.content : (b.content ?? []).map((c) => c.text ?? '').join('\n');
      out.push(block(`${role} · tool_result`, text, tokens));
    } else if (b.type === 'thinking') out.push(block(`${role} · thinking (signed, sent as is)`, b.thinking, tokens));
    else out.push(block(`${role} · ${b.type}`, JSON.stringify(b, null, 2), tokens));
  }
}

function renderSent(detail) {
  const sent = $('#sent');
  const tokens = detail.tokens;
  if (state.raw) { sent.replaceChildren(block('raw JSON (as sent)', detail.masked_request, tokens)); return; }
  let body;
  try { body = JSON.parse(detail.masked_request); } catch { sent.replaceChildren(block('body', detail.masked_request, tokens)); return; }
  const out = [];
  if (typeof body.system === 'string') out.push(block('system', body.system, tokens));
  for (const s of Array.isArray(body.system) ? body.system : []) out.push(block('system', s.text ?? '', tokens));
  for (const m of body.messages ?? []) contentBlocks(m.role, m.content, tokens, out);
  if (body.tools) out.push(block(`tools (${body.tools.length})`, body.tools.map((t) => t.name).join(', '), tokens));
  sent.replaceChildren(...out);
}

function answerText(response) {
  if (!response.includes('data:')) {
    try { return (JSON.parse(response).content ?? []).map((b) => b.text ?? JSON.stringify(b.input ?? b)).join('\n'); } catch { return response; }
  }
  let text = '';
  for (const line of response.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    try {
      const event = JSON.parse(line.slice(6));
      if (event.delta?.type === 'text_delta') text += event.delta.text;
      if (event.delta?.type === 'input_json_delta') text += event.delta.partial_json;
      if (event.type === 'content_block_stop') text += '\n';
      if (event.type === 'error') text += `\n[error] ${event.error?.message}`;
    } catch { /* a partial line */ }
  }
  return text;
}

async function select(id) {
  state.selected = id;
  const detail = await invoke('exchange', { id });
  if (!detail) return;
  state.detail = detail;
  $('#detail').hidden = false;
  $('#detail-title').textContent = `#${detail.summary.id} ${detail.summary.path} · ${detail.summary.status ?? detail.summary.outcome}`;
  renderSent(detail);
  $('#answer').replaceChildren(block('answer', answerText(detail.response) || detail.summary.error || '…', []));
  renderRows();
}

$('#show-raw').addEventListener('click', (e) => {
  state.raw = !state.raw;
  e.target.setAttribute('aria-pressed', String(state.raw));
  if (state.detail) renderSent(state.detail);
});

$('#copy-curl').addEventListener('click', async () => {
  if (!state.detail) return;
  const body = state.detail.masked_request.replaceAll("'", "'\\''");
  const address = state.status?.address ?? '127.0.0.1:8082';
  const curl = `curl http://${address}${state.detail.summary.path} -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -H "x-api-key: $ANTHROPIC_API_KEY" -d '${body}'`;
  await navigator.clipboard.writeText(curl);
});

// ---- patterns ---------------------------------------------------------------------------
async function loadKinds() {
  state.kinds = await invoke('catalog');
  const body = $('#kinds tbody');
  body.replaceChildren(...state.kinds.map((k) => {
    const tr = document.createElement('tr');
    const toggle = document.createElement('input');
    toggle.type = 'checkbox';
    toggle.checked = k.enabled;
    toggle.setAttribute('aria-label', `Mask ${k.label}`);
    toggle.dataset.kind = k.id;
    toggle.addEventListener('change', async () => {
      try { await invoke('set_kind_enabled', { id: k.id, enabled: toggle.checked }); } catch (e) { toggle.checked = !toggle.checked; $('#patterns-error').textContent = e.message; }
    });
    const cells = [toggle, `${k.label}\n${k.description}`, k.example || k.regex || '', `${k.token_prefix}_001`, String(k.count)];
    for (const c of cells) {
      const td = document.createElement('td');
      if (typeof c === 'string') { td.textContent = c; td.style.whiteSpace = 'pre-wrap'; } else td.append(c);
      tr.append(td);
    }
    if (k.custom) {
      const actions = document.createElement('td');
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.textContent = 'Edit';
      edit.addEventListener('click', () => {
        customForm.elements.name.value = k.label;
        customForm.elements.regex.value = k.regex;
        customForm.elements.token_prefix.value = k.token_prefix;
        customForm.elements.name.focus();
        preview();
      });
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => saveCustom(customPatterns().filter((c) => c.name !== k.label)));
      actions.append(edit, ' ', remove);
      tr.append(actions);
    }
    return tr;
  }));
}

const customForm = $('#custom-form');
async function preview() {
  const data = Object.fromEntries(new FormData(customForm));
  const out = $('#preview');
  if (!data.name || !data.regex || !data.token_prefix) { out.textContent = ''; return; }
  try {
    const result = await invoke('preview_pattern', { pattern: { name: data.name, regex: data.regex, token_prefix: data.token_prefix }, sample: data.sample });
    out.className = 'wide';
    out.textContent = `${result.matches} match(es): ${result.masked}`;
  } catch (e) {
    out.className = 'wide error-text';
    out.textContent = e.message;
  }
}
customForm.addEventListener('input', preview);
const customPatterns = () => state.kinds.filter((k) => k.custom).map((k) => ({ name: k.label, regex: k.regex, token_prefix: k.token_prefix }));

async function saveCustom(patterns) {
  try {
    await invoke('save_custom_patterns', { patterns });
    customForm.reset();
    $('#preview').textContent = '';
    loadKinds();
  } catch (err) { $('#preview').className = 'wide error-text'; $('#preview').textContent = err.message; }
}

// Saving under an existing name replaces that pattern (editing); a new name adds one.
customForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const data = Object.fromEntries(new FormData(customForm));
  const pattern = { name: data.name.trim(), regex: data.regex, token_prefix: data.token_prefix };
  saveCustom([...customPatterns().filter((c) => c.name !== pattern.name), pattern]);
});

// ---- settings ---------------------------------------------------------------------------
const gatewayForm = $('#gateway-form');
async function loadSettings() {
  const view = await invoke('gateway_settings');
  for (const [name, value] of Object.entries(view)) {
    const field = gatewayForm.elements.namedItem(name);
    if (field) field.value = value ?? '';
  }
  gatewayForm.elements.secret.value = '';
  gatewayForm.elements.secret.placeholder = view.secret_set ? 'stored in the keychain — type to replace' : 'not set';
  gatewayForm.elements.local_token.value = '';
  gatewayForm.elements.local_token.placeholder = view.local_token_set ? 'set — type to replace' : 'none';
  // The headless dashboard shows the gateway its command line set, read-only.
  $('#gateway-fields').disabled = !view.editable;
  $('#gateway-readonly').hidden = view.editable;
}

const result = (text, bad) => { const o = $('#settings-result'); o.textContent = text; o.className = 'wide' + (bad ? ' error-text' : ''); };

gatewayForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = gatewayForm.elements;
  const view = { upstream_url: f.upstream_url.value, auth: f.auth.value, key_header: f.key_header.value, basic_user: f.basic_user.value,
    anthropic_key: f.anthropic_key.value, ca_file: f.ca_file.value || null, listen: f.listen.value };
  try {
    await invoke('save_gateway_settings', { view, secret: f.secret.value || null, localToken: f.local_token.value || null });
    result('Saved. The next request uses the new settings.');
    loadSettings();
  } catch (err) { result(err.message, true); }
});

$('#test-connection').addEventListener('click', async () => {
  result('Asking the upstream…');
  try {
    const h = await invoke('test_connection');
    result(`${h.status}: ${h.upstream} ${h.reachable ? `answered ${h.http_status}` : 'is unreachable'}; credentials ${h.credentials}.\n${h.detail}`, h.status !== 'ok');
  } catch (err) { result(err.message, true); }
});

$('#setup-claude').addEventListener('click', async () => {
  try { result(await invoke('set_up_claude_code')); } catch (err) { result(err.message, true); }
});

// ---- start ------------------------------------------------------------------------------
listen('journal', ({ payload }) => {
  if (payload.event === 'record') upsert(payload);
  if (payload.event === 'response_chunk' && payload.id === state.selected && state.detail) {
    state.detail.response += payload.text;
    $('#answer').replaceChildren(block('answer (streaming)', answerText(state.detail.response), []));
  }
});
listen('status', ({ payload }) => showStatus(payload));
if (!tauri) followEvents();
showStatus(await invoke('status'));
state.rows = await invoke('exchanges');
for (const kind of await invoke('catalog')) state.totals[kind.id] = kind.count;
renderRows();
