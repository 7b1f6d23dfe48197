// The live view: exchanges newest first in a virtual list (thousands stay fast), a filter, the
// session's counters per kind, and the selected exchange — what left the machine, rendered as a
// conversation with every token highlighted, next to the restored answer as it streams.

import { messageOf, type ExchangeDetail, type TurnDiff, type JournalEvent, type RecordSummary, type TokenEntry, type Usage } from './api';
import { inDesktopApp, invoke } from './backend';
import { $, hue } from './dom';

/// Every row of the list has this height (style.css), so only the visible ones are built.
const ROW_HEIGHT = 28;

const live = {
  rows: [] as RecordSummary[],
  totals: {} as Record<string, number>,
  selected: null as number | null,
  detail: null as ExchangeDetail | null,
  raw: false,
  /// Exchanges ticked for export.
  picked: new Set<number>(),
  firstBuilt: 0,
  proxyAddress: '127.0.0.1:8082',
};

export function setProxyAddress(address: string): void {
  live.proxyAddress = address;
}

/// The exchanges the journal still holds, and the session's counts per kind.
export function showInitial(rows: RecordSummary[], totals: Record<string, number>): void {
  live.rows = rows;
  live.totals = totals;
  renderRows();
}

export function onJournalEvent(event: JournalEvent): void {
  if (event.event === 'record') upsert(event);
  else if (event.event === 'cleared') {
    live.rows = [];
    live.selected = null;
    live.detail = null;
    $('#detail').hidden = true;
    renderRows();
    live.picked.clear();
  } else if (event.id === live.selected && live.detail) {
    live.detail.response += event.text;
    $('#answer').replaceChildren(block('answer (streaming)', answerText(live.detail.response), []));
  }
}

// ---- the list ---------------------------------------------------------------------------
const fmtTime = (ms: number) => new Date(ms).toLocaleTimeString();
const fmtSize = (n: number) => (n > 1048576 ? `${(n / 1048576).toFixed(1)} MB` : n > 1024 ? `${(n / 1024).toFixed(0)} KB` : `${n} B`);
const countsText = (counts: Record<string, number>) => Object.entries(counts).map(([k, n]) => `${k}×${n}`).join(' ');

/// What the toolbar's filters ask for: words anywhere in the row, a category it masked, an
/// outcome, a model, and how recent.
interface Filter {
  words: string[];
  kind: string;
  status: string;
  model: string;
  sinceMs: number;
}

function currentFilter(): Filter {
  const value = (id: string) => $<HTMLInputElement | HTMLSelectElement>(id).value;
  const minutes = Number(value('#filter-time'));
  return {
    words: value('#filter').trim().toLowerCase().split(/\s+/).filter(Boolean),
    kind: value('#filter-kind'),
    status: value('#filter-status'),
    model: value('#filter-model'),
    sinceMs: minutes ? Date.now() - minutes * 60_000 : 0,
  };
}

function statusMatches(row: RecordSummary, wanted: string): boolean {
  const ok = row.status != null && row.status >= 200 && row.status < 300;
  switch (wanted) {
    case 'ok': return row.outcome === 'completed' && ok;
    case 'error': return row.outcome === 'completed' && !ok;
    case '': return true;
    default: return row.outcome === wanted;
  }
}

function matchesFilter(row: RecordSummary, filter: Filter): boolean {
  if (filter.kind && !row.counts[filter.kind]) return false;
  if (filter.model && row.model !== filter.model) return false;
  if (row.started_unix_ms < filter.sinceMs || !statusMatches(row, filter.status)) return false;
  if (!filter.words.length) return true;
  const hay = [row.path, row.model, row.status, row.outcome, countsText(row.counts), row.error].join(' ').toLowerCase();
  return filter.words.every((word) => hay.includes(word));
}

/// The choices of a filter's select: what the rows hold, keeping the one chosen.
function fillChoices(id: string, values: Iterable<string>, any: string): void {
  const select = $<HTMLSelectElement>(id);
  const chosen = select.value;
  const sorted = [...new Set([...values, ...(chosen ? [chosen] : [])])].sort();
  if (sorted.join('\n') === [...select.options].slice(1).map((o) => o.value).join('\n')) return;
  const options = [new Option(any, ''), ...sorted.map((v) => new Option(v, v))];
  select.replaceChildren(...options);
  select.value = chosen;
}

/// Rows are built from a multiple of ten, ten above the first visible one.
const firstBuiltRow = (list: HTMLElement) => Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT / 10) * 10 - 10);

function spacer(rows: number): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.className = 'spacer';
  tr.setAttribute('aria-hidden', 'true');
  const td = document.createElement('td');
  td.colSpan = 8;
  td.style.height = `${rows * ROW_HEIGHT}px`;
  tr.append(td);
  return tr;
}

/// What the masked column adds for images and PDFs, which were sent (or refused) unread.
function unreadText(attachments: number): string {
  return attachments ? ` + ${attachments} image/PDF unread` : '';
}

function rowElement(row: RecordSummary): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.tabIndex = 0;
  tr.dataset.id = String(row.id);
  if (row.id === live.selected) tr.className = 'selected';
  const pick = document.createElement('input');
  pick.type = 'checkbox';
  pick.className = 'pick';
  pick.checked = live.picked.has(row.id);
  pick.setAttribute('aria-label', `Tick exchange ${row.id} for export`);
  pick.addEventListener('click', (e) => e.stopPropagation());
  pick.addEventListener('change', () => { if (pick.checked) live.picked.add(row.id); else live.picked.delete(row.id); });
  const pickCell = document.createElement('td');
  pickCell.append(pick);
  tr.append(pickCell);
  const cells = [fmtTime(row.started_unix_ms), row.path, row.model ?? '', String(row.status ?? row.outcome),
    row.latency_ms != null ? row.latency_ms.toFixed(0) : '…', fmtSize(row.request_bytes),
    (row.masked_total ? `${row.masked_total} (${countsText(row.counts)})` : '0') + unreadText(row.attachments)];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    td.title = text;
    tr.append(td);
  }
  tr.addEventListener('click', () => void select(row.id));
  tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') void select(row.id); });
  return tr;
}

/// The rows the filters let through, newest first.
function shownRows(): RecordSummary[] {
  const filter = currentFilter();
  return live.rows.filter((r) => matchesFilter(r, filter));
}

function renderRows(): void {
  fillChoices('#filter-kind', Object.keys(live.totals), 'any category');
  fillChoices('#filter-model', live.rows.flatMap((r) => (r.model ? [r.model] : [])), 'any model');
  const list = $('.list');
  const shown = shownRows();
  // A virtual list: the rows outside the scrolled window are two spacers of the right height.
  const first = firstBuiltRow(list);
  live.firstBuilt = first;
  const visible = shown.slice(first, first + Math.ceil(list.clientHeight / ROW_HEIGHT) + 30);
  const fragment = document.createDocumentFragment();
  if (first > 0) fragment.append(spacer(first));
  for (const row of visible) fragment.append(rowElement(row));
  const after = shown.length - first - visible.length;
  if (after > 0) fragment.append(spacer(after));
  $('#exchanges tbody').replaceChildren(fragment);
  $('#empty').hidden = live.rows.length > 0;
  $('#totals').textContent = `${shown.length} of ${live.rows.length} shown`;
  $('#cache-share').textContent = cacheShareText(live.rows);
  renderTotals();
}

/// The share of input the upstream read from its prompt cache over the exchanges that
/// reported usage: the proof that masking keeps the conversation's prefix byte-stable.
function cacheShareText(rows: RecordSummary[]): string {
  let read = 0;
  let input = 0;
  let reported = 0;
  for (const { usage } of rows) {
    if (!usage) continue;
    reported += 1;
    read += usage.cache_read_input_tokens;
    input += usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
  }
  if (!input) return '';
  return `prompt cache: ${Math.round((read / input) * 100)}% of input read from cache (${reported} exchanges)`;
}

const ms = (value: number | null) => (value == null ? '…' : value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`);

/// The exchange's time split and the usage the upstream reported.
function detailMeta(summary: RecordSummary): string {
  const times = `masking ${ms(summary.masking_ms)} · upstream first byte ${ms(summary.first_byte_ms)} · total ${ms(summary.latency_ms)}`;
  const u: Usage | null = summary.usage;
  if (!u) return times;
  return `${times} · tokens: input ${u.input_tokens}, cache read ${u.cache_read_input_tokens}, cache write ${u.cache_creation_input_tokens}, output ${u.output_tokens}`;
}

/// The exchange against the previous turn of its conversation: how much of the body's start
/// stayed the same (what the prompt cache can reuse) and which messages changed.
function turnDiffText(diff: TurnDiff | null): string {
  if (!diff) return 'First turn of its conversation (no earlier turn in the journal).';
  const share = diff.bytes ? Math.round((diff.cached_prefix_bytes / diff.bytes) * 100) : 0;
  const tally = (['same', 'changed', 'added'] as const)
    .map((kind) => [kind, diff.messages.filter((m) => m === kind).length] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
  const changed = diff.messages.flatMap((m, i) => (m === 'changed' ? [i + 1] : []));
  const which = changed.length ? ` (changed: message ${changed.join(', ')})` : '';
  const parts = [diff.tools !== 'none' ? `tools ${diff.tools}` : '', diff.system !== 'none' ? `system ${diff.system}` : '']
    .filter(Boolean).join(' · ');
  return `Against the previous turn #${diff.previous_id}: ${parts ? `${parts} · ` : ''}messages: ${tally}${which} · `
    + `the prompt cache can reuse ${share}% (${fmtSize(diff.cached_prefix_bytes)} of ${fmtSize(diff.bytes)}: tools, system, then messages, up to the first change)`;
}

/// Identifiers masked this session, per kind; a click filters the list by that kind.
function renderTotals(): void {
  const chips = Object.entries(live.totals).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([kind, n]) => {
    const chip = document.createElement('button');
    chip.type = 'button';
    chip.className = 'chip';
    chip.style.setProperty('--h', hue(kind));
    chip.textContent = `${kind} ${n}`;
    chip.title = `Show the exchanges that masked ${kind}`;
    chip.addEventListener('click', () => { $<HTMLSelectElement>('#filter-kind').value = kind; renderRows(); });
    return chip;
  });
  $('#kind-totals').replaceChildren(...chips);
}

let renderPending = false;
function scheduleRender(): void {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => { renderPending = false; renderRows(); });
}

function upsert(summary: RecordSummary): void {
  const at = live.rows.findIndex((r) => r.id === summary.id);
  if (at >= 0) live.rows[at] = summary;
  else {
    live.rows.unshift(summary);
    for (const [kind, n] of Object.entries(summary.counts)) live.totals[kind] = (live.totals[kind] ?? 0) + n;
  }
  scheduleRender();
  if (summary.id === live.selected) void select(summary.id);
}

$('#filter').addEventListener('input', renderRows);
for (const id of ['#filter-kind', '#filter-status', '#filter-model', '#filter-time']) $(id).addEventListener('change', renderRows);

$<HTMLInputElement>('#pick-all').addEventListener('change', (e) => {
  const all = (e.target as HTMLInputElement).checked;
  live.picked = new Set(all ? shownRows().map((r) => r.id) : []);
  renderRows();
});

// ---- export: masked only, built by the Rust side from what crossed the network ----------
interface Export { file_name: string; media_type: string; text: string }

async function exportExchanges(format: 'jsonl' | 'har'): Promise<void> {
  const out = $('#export-result');
  const ticked = shownRows().filter((r) => live.picked.has(r.id));
  const ids = (ticked.length ? ticked : shownRows()).map((r) => r.id);
  if (!ids.length) { out.textContent = 'Nothing to export'; return; }
  try {
    if (inDesktopApp) {
      out.textContent = `Saved ${ids.length} to ${await invoke<string>('save_export', { ids, format })}`;
      return;
    }
    const file = await invoke<Export>('export', { ids, format });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([file.text], { type: file.media_type }));
    link.download = file.file_name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    out.textContent = `Exported ${ids.length} as ${file.file_name}`;
  } catch (error) {
    out.textContent = messageOf(error);
  }
}
$('#export-jsonl').addEventListener('click', () => void exportExchanges('jsonl'));
$('#export-har').addEventListener('click', () => void exportExchanges('har'));
// Rebuilt on scroll only when the window of built rows moves: a scroll that brings a row into
// view for a click must not replace the row being clicked.
$('.list').addEventListener('scroll', (e) => {
  if (firstBuiltRow(e.target as HTMLElement) !== live.firstBuilt) scheduleRender();
});

// ---- the selected exchange --------------------------------------------------------------
function highlight(text: string, tokens: TokenEntry[]): DocumentFragment {
  const fragment = document.createDocumentFragment();
  if (!tokens.length) { fragment.append(text); return fragment; }
  const byToken = new Map(tokens.map((t) => [t.token, t]));
  // Whole tokens only, longest first: EC2_INSTANCE_1000 is not EC2_INSTANCE_100.
  const pattern = new RegExp(`${tokens.map((t) => t.token).sort((a, b) => b.length - a.length).join('|')}(?!\\d)`, 'g');
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const entry = byToken.get(m[0]);
    if (!entry || m.index === undefined) continue;
    fragment.append(text.slice(last, m.index));
    const mark = document.createElement('mark');
    mark.className = 'tok';
    mark.textContent = m[0];
    mark.style.setProperty('--h', hue(entry.kind));
    // What it is and why it was masked: the category, and the text that named it.
    const why = entry.context ? `, after “${entry.context}”` : '';
    mark.title = `${entry.kind}: ${entry.original}\n${entry.label}${why}`;
    mark.dataset.original = entry.original;
    mark.tabIndex = 0;
    mark.addEventListener('click', () => {
      mark.classList.toggle('revealed');
      if (mark.classList.contains('revealed')) mark.after(neverMaskButton(entry.original));
      else if (mark.nextElementSibling?.classList.contains('never-mask')) mark.nextElementSibling.remove();
    });
    fragment.append(mark);
    last = m.index + m[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

/// The one-click answer to a false positive: this original stays readable from the next
/// request on.
function neverMaskButton(original: string): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'never-mask';
  button.textContent = 'Never mask';
  button.title = `Add ${original} to the never-mask list`;
  button.addEventListener('click', async () => {
    try {
      await invoke('never_mask', { value: original });
      button.textContent = 'Never masked from the next request';
      button.disabled = true;
    } catch (error) {
      button.textContent = messageOf(error);
    }
  });
  return button;
}

function block(role: string, text: string, tokens: TokenEntry[]): HTMLDivElement {
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

// The request body's parts as the page reads them; anything else is shown as JSON.
interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  input?: unknown;
  content?: string | { text?: string }[];
  thinking?: string;
}
interface RequestBody {
  system?: string | { text?: string }[];
  messages?: { role: string; content: string | ContentBlock[] }[];
  tools?: { name: string }[];
}

function contentBlocks(role: string, content: string | ContentBlock[], tokens: TokenEntry[]): HTMLDivElement[] {
  if (typeof content === 'string') return [block(role, content, tokens)];
  return content.map((b) => {
    switch (b.type) {
      case 'text': return block(`${role} · text`, b.text ?? '', tokens);
      case 'tool_use': return block(`${role} · tool_use ${b.name ?? ''}`, JSON.stringify(b.input, null, 2), tokens);
      case 'tool_result': {
        const text = typeof b.content === 'string' ? b.content : (b.content ?? []).map((c) => c.text ?? '').join('\n');
        return block(`${role} · tool_result`, text, tokens);
      }
      case 'thinking': return block(`${role} · thinking (signed, sent as is)`, b.thinking ?? '', tokens);
      default: return block(`${role} · ${b.type}`, JSON.stringify(b, null, 2), tokens);
    }
  });
}

function renderSent(detail: ExchangeDetail): void {
  const sent = $('#sent');
  const tokens = detail.tokens;
  if (live.raw) { sent.replaceChildren(block('raw JSON (as sent)', detail.masked_request, tokens)); return; }
  let body: RequestBody;
  try { body = JSON.parse(detail.masked_request) as RequestBody; } catch { sent.replaceChildren(block('body', detail.masked_request, tokens)); return; }
  const out: HTMLDivElement[] = [];
  if (typeof body.system === 'string') out.push(block('system', body.system, tokens));
  for (const s of Array.isArray(body.system) ? body.system : []) out.push(block('system', s.text ?? '', tokens));
  for (const m of body.messages ?? []) out.push(...contentBlocks(m.role, m.content, tokens));
  if (body.tools) out.push(block(`tools (${body.tools.length})`, body.tools.map((t) => t.name).join(', '), tokens));
  sent.replaceChildren(...out);
}

interface StreamEvent {
  type?: string;
  delta?: { type?: string; text?: string; partial_json?: string };
  error?: { message?: string };
}

/// The readable text of an answer: a JSON message, or the text of an SSE stream so far.
function answerText(response: string): string {
  if (!response.includes('data:')) {
    try {
      const message = JSON.parse(response) as { content?: { text?: string; input?: unknown }[] };
      return (message.content ?? []).map((b) => b.text ?? JSON.stringify(b.input ?? b)).join('\n');
    } catch { return response; }
  }
  let text = '';
  for (const line of response.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    try {
      const event = JSON.parse(line.slice(6)) as StreamEvent;
      if (event.delta?.type === 'text_delta') text += event.delta.text ?? '';
      if (event.delta?.type === 'input_json_delta') text += event.delta.partial_json ?? '';
      if (event.type === 'content_block_stop') text += '\n';
      if (event.type === 'error') text += `\n[error] ${event.error?.message ?? ''}`;
    } catch { /* a partial line */ }
  }
  return text;
}

async function select(id: number): Promise<void> {
  live.selected = id;
  const detail = await invoke<ExchangeDetail | null>('exchange', { id });
  if (!detail) return;
  live.detail = detail;
  const { summary } = detail;
  $('#detail').hidden = false;
  $('#detail-title').textContent = `#${summary.id} ${summary.path} · ${summary.status ?? summary.outcome}`;
  $('#detail-meta').textContent = detailMeta(summary);
  const unminted = $('#detail-unminted');
  unminted.hidden = !detail.unminted.length;
  $('#detail-diff').textContent = turnDiffText(detail.previous_turn);
  unminted.textContent = `The model wrote tokens this request never minted (they stand for nothing and were passed on as written): ${detail.unminted.join(', ')}`;
  renderSent(detail);
  $('#answer').replaceChildren(block('answer', answerText(detail.response) || summary.error || '…', []));
  renderRows();
}

$('#show-raw').addEventListener('click', (e) => {
  live.raw = !live.raw;
  (e.currentTarget as HTMLElement).setAttribute('aria-pressed', String(live.raw));
  if (live.detail) renderSent(live.detail);
});

$('#copy-curl').addEventListener('click', () => {
  if (!live.detail) return;
  const body = live.detail.masked_request.replaceAll("'", "'\\''");
  const curl = `curl http://${live.proxyAddress}${live.detail.summary.path} -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -H "x-api-key: $ANTHROPIC_API_KEY" -d '${body}'`;
  void navigator.clipboard.writeText(curl);
});
