// The settings view: the Kong endpoint and credentials (the secret goes to the OS keychain and
// is never shown again), the listen address and local token, Test connection, and "Set up
// Claude Code". The headless dashboard shows the gateway its command line set, read-only.

import { messageOf, type GatewayView, type Health } from './api';
import { invoke } from './backend';
import { $, field } from './dom';

const form = $<HTMLFormElement>('#gateway-form');
const TEXT_FIELDS = ['upstream_url', 'auth', 'key_header', 'basic_user', 'anthropic_key', 'ca_file', 'listen'] as const;

function result(text: string, bad = false): void {
  const out = $('#settings-result');
  out.textContent = text;
  out.className = bad ? 'wide error-text' : 'wide';
}

interface Retention { records: number; mib: number; held_records: number; held_mib: number }

const retentionForm = $<HTMLFormElement>('#retention-form');

async function loadRetention(): Promise<void> {
  const view = await invoke<Retention>('retention');
  field<HTMLInputElement>(retentionForm, 'records').value = String(view.records);
  field<HTMLInputElement>(retentionForm, 'mib').value = String(view.mib);
  $('#retention-result').textContent = `Holding ${view.held_records} exchanges, ${view.held_mib.toFixed(1)} MiB.`;
}

retentionForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const number = (name: string) => Number(field<HTMLInputElement>(retentionForm, name).value);
  try {
    await invoke('save_retention', { records: number('records'), mib: number('mib') });
    await loadRetention();
  } catch (error) {
    $('#retention-result').textContent = messageOf(error);
  }
});

/// Fills the gateway form from the stored settings. The fields stay disabled until the answer
/// is in, so nothing the user types is overwritten by a late answer, and a save never sends a
/// half-filled form.
export async function loadSettings(): Promise<void> {
  const fields = $<HTMLFieldSetElement>('#gateway-fields');
  fields.disabled = true;
  await loadRetention();
  const view = await invoke<GatewayView>('gateway_settings');
  for (const name of TEXT_FIELDS) field<HTMLInputElement | HTMLSelectElement>(form, name).value = view[name] ?? '';
  const secret = field(form, 'secret');
  secret.value = '';
  secret.placeholder = view.secret_set ? 'stored in the keychain — type to replace' : 'not set';
  const localToken = field(form, 'local_token');
  localToken.value = '';
  localToken.placeholder = view.local_token_set ? 'set — type to replace' : 'none';
  fields.disabled = !view.editable;
  $('#gateway-readonly').hidden = view.editable;
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const value = (name: string) => field<HTMLInputElement | HTMLSelectElement>(form, name).value;
  const view: Record<string, string | null> = Object.fromEntries(TEXT_FIELDS.map((name) => [name, value(name)]));
  view.ca_file = view.ca_file || null;
  try {
    await invoke('save_gateway_settings', { view, secret: value('secret') || null, local_token: value('local_token') || null });
    result('Saved. The next request uses the new settings.');
    await loadSettings();
  } catch (error) {
    result(messageOf(error), true);
  }
});

$('#test-connection').addEventListener('click', async () => {
  result('Asking the upstream…');
  try {
    const h = await invoke<Health>('test_connection');
    result(`${h.status}: ${h.upstream} ${h.reachable ? `answered ${h.http_status ?? ''}` : 'is unreachable'}; credentials ${h.credentials}.\n${h.detail}`, h.status !== 'ok');
  } catch (error) {
    result(messageOf(error), true);
  }
});

$('#setup-claude').addEventListener('click', async () => {
  try {
    result(await invoke<string>('set_up_claude_code'));
  } catch (error) {
    result(messageOf(error), true);
  }
});

interface LearnReport { learned: Record<string, number>; failed: string[] }

/// Names of the account's resources, listed with the user's own aws CLI and masked from the
/// next request on; the page sees counts, never the names.
$('#learn').addEventListener('click', async () => {
  result('Listing your AWS resources with the aws CLI…');
  try {
    const profile = $<HTMLInputElement>('#learn-profile').value.trim();
    const report = await invoke<LearnReport>('learn', profile ? { profile } : {});
    const counts = Object.entries(report.learned).map(([kind, n]) => `${kind} ${n}`).join(', ') || 'nothing';
    const failed = report.failed.length ? `\nNot listed: ${report.failed.join('; ')}` : '';
    result(`Learned (in memory, this session): ${counts}.${failed}`);
  } catch (error) {
    result(messageOf(error), true);
  }
});
