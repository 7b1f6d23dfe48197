// The patterns view: every kind with its switch (applied to the next request, kept across
// restarts) and its count this session; custom patterns with a live preview before saving;
// the always-mask and never-mask lists.

import { messageOf, type AlwaysMask, type CustomPattern, type KindView, type Lists, type Policy, type Preview } from './api';
import { invoke } from './backend';
import { $, field } from './dom';

let kinds: KindView[] = [];
const customForm = $<HTMLFormElement>('#custom-form');

const customPatterns = (): CustomPattern[] =>
  kinds.filter((k) => k.custom).map((k) => ({ name: k.label, regex: k.regex ?? '', token_prefix: k.token_prefix }));

function kindSwitch(kind: KindView): HTMLInputElement {
  const toggle = document.createElement('input');
  toggle.type = 'checkbox';
  toggle.checked = kind.enabled;
  toggle.setAttribute('aria-label', `Mask ${kind.label}`);
  toggle.dataset.kind = kind.id;
  toggle.addEventListener('change', async () => {
    try {
      await invoke('set_kind_enabled', { id: kind.id, enabled: toggle.checked });
    } catch (error) {
      toggle.checked = !toggle.checked;
      $('#patterns-error').textContent = messageOf(error);
    }
  });
  return toggle;
}

const POLICIES: [Policy, string][] = [
  ['mask-and-restore', 'mask and restore'],
  ['mask-only', 'mask, never restore'],
  ['refuse', 'refuse the request'],
];

function policySelect(kind: KindView): HTMLSelectElement {
  const select = document.createElement('select');
  select.setAttribute('aria-label', `Policy for ${kind.label}`);
  select.dataset.policy = kind.id;
  for (const [value, label] of POLICIES) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = label;
    option.selected = value === kind.policy;
    select.append(option);
  }
  select.addEventListener('change', async () => {
    try {
      await invoke('set_policy', { id: kind.id, policy: select.value });
    } catch (error) {
      select.value = kind.policy;
      $('#patterns-error').textContent = messageOf(error);
    }
  });
  return select;
}

function customActions(kind: KindView): HTMLTableCellElement {
  const actions = document.createElement('td');
  const edit = document.createElement('button');
  edit.type = 'button';
  edit.textContent = 'Edit';
  edit.addEventListener('click', () => {
    field(customForm, 'name').value = kind.label;
    field(customForm, 'regex').value = kind.regex ?? '';
    field(customForm, 'token_prefix').value = kind.token_prefix;
    field(customForm, 'name').focus();
    void preview();
  });
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'Delete';
  remove.addEventListener('click', () => void saveCustom(customPatterns().filter((c) => c.name !== kind.label)));
  actions.append(edit, ' ', remove);
  return actions;
}

export async function loadKinds(): Promise<void> {
  kinds = await invoke<KindView[]>('catalog');
  $('#kinds tbody').replaceChildren(...kinds.map((k) => {
    const tr = document.createElement('tr');
    const cells: (string | HTMLElement)[] = [kindSwitch(k), `${k.label}\n${k.description}`, k.example || k.regex || '', `${k.token_prefix}_001`, policySelect(k), String(k.count)];
    for (const c of cells) {
      const td = document.createElement('td');
      if (typeof c === 'string') { td.textContent = c; td.className = 'multiline'; } else td.append(c);
      tr.append(td);
    }
    if (k.custom) tr.append(customActions(k));
    return tr;
  }));
}

function formPattern(): CustomPattern & { sample: string } {
  const value = (name: string) => field(customForm, name).value;
  return { name: value('name').trim(), regex: value('regex'), token_prefix: value('token_prefix'), sample: field<HTMLTextAreaElement>(customForm, 'sample').value };
}

/// What the pattern in the form would mask in the sample text, as it is typed.
async function preview(): Promise<void> {
  const { sample, ...pattern } = formPattern();
  const out = $('#preview');
  if (!pattern.name || !pattern.regex || !pattern.token_prefix) { out.textContent = ''; return; }
  try {
    const result = await invoke<Preview>('preview_pattern', { pattern, sample });
    out.className = 'wide';
    out.textContent = `${result.matches} match(es): ${result.masked}`;
  } catch (error) {
    out.className = 'wide error-text';
    out.textContent = messageOf(error);
  }
}

async function saveCustom(patterns: CustomPattern[]): Promise<void> {
  const out = $('#preview');
  try {
    await invoke('save_custom_patterns', { patterns });
    customForm.reset();
    out.textContent = '';
    await loadKinds();
  } catch (error) {
    out.className = 'wide error-text';
    out.textContent = messageOf(error);
  }
}

customForm.addEventListener('input', () => void preview());
// Saving under an existing name replaces that pattern (editing); a new name adds one.
customForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const { sample: _sample, ...pattern } = formPattern();
  void saveCustom([...customPatterns().filter((c) => c.name !== pattern.name), pattern]);
});

// ---- the user's lists ---------------------------------------------------------------------
const listsForm = $<HTMLFormElement>('#lists-form');

/// `value [PREFIX]` per line; a line's last word is its prefix when it looks like one.
function parseAlways(text: string): AlwaysMask[] {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const words = line.split(/\s+/);
    const last = words[words.length - 1];
    if (words.length > 1 && /^[A-Z][A-Z0-9_]*$/.test(last)) {
      return { value: words.slice(0, -1).join(' '), token_prefix: last };
    }
    return { value: line, token_prefix: 'LISTED' };
  });
}

export async function loadLists(): Promise<void> {
  const lists = await invoke<Lists>('lists');
  field<HTMLTextAreaElement>(listsForm, 'always').value =
    lists.always.map((a) => (a.token_prefix === 'LISTED' ? a.value : `${a.value} ${a.token_prefix}`)).join('\n');
  field<HTMLTextAreaElement>(listsForm, 'never').value = lists.never.join('\n');
  field(listsForm, 'aws_known_values').checked = lists.aws_known_values;
  field<HTMLSelectElement>(listsForm, 'attachments').value = lists.attachments;
  const counts = Object.entries(lists.known).map(([source, n]) => `${n} from ${source}`);
  $('#known-counts').textContent = counts.length ? `(now ${counts.join(', ')})` : '(none found)';
}

listsForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('#lists-result');
  const always = parseAlways(field<HTMLTextAreaElement>(listsForm, 'always').value);
  const never = field<HTMLTextAreaElement>(listsForm, 'never').value.split('\n').map((l) => l.trim()).filter(Boolean);
  try {
    const awsKnownValues = field(listsForm, 'aws_known_values').checked;
    const attachments = field<HTMLSelectElement>(listsForm, 'attachments').value;
    await invoke('save_lists', { always, never, aws_known_values: awsKnownValues, attachments });
    await loadLists();
    out.className = 'wide';
    out.textContent = 'Saved: applies to the next request.';
    await loadKinds();
  } catch (error) {
    out.className = 'wide error-text';
    out.textContent = messageOf(error);
  }
});
