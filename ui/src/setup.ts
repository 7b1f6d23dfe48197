// "Check setup": maskgate doctor's checks as the app makes them (this maskgate, its upstream,
// ~/.claude/settings.json, a live probe), one line each with the fix for each that fails. The
// header's button runs them; the tray's "Check setup" runs them too and sends the result here.

import { messageOf, type SetupCheck } from './api';
import { invoke, listen } from './backend';
import { $ } from './dom';

const dialog = $<HTMLDialogElement>('#setup-checks');

function show(checks: SetupCheck[]): void {
  const failed = checks.filter((c) => !c.ok).length;
  $('#setup-summary').textContent = failed === 0
    ? `All ${checks.length} checks pass.`
    : `${failed} of ${checks.length} checks fail.`;
  $('#setup-summary').className = failed === 0 ? '' : 'error-text';
  const list = $('#setup-check-list');
  list.replaceChildren(...checks.map((check) => {
    const item = document.createElement('li');
    item.className = check.ok ? 'ok' : 'fail';
    item.textContent = check.line;
    if (check.fix) {
      const fix = document.createElement('span');
      fix.className = 'fix';
      fix.textContent = `fix: ${check.fix}`;
      item.append(fix);
    }
    return item;
  }));
  if (!dialog.open) dialog.showModal();
}

async function run(): Promise<void> {
  $('#setup-summary').textContent = 'Checking…';
  $('#setup-check-list').replaceChildren();
  if (!dialog.open) dialog.showModal();
  try {
    show(await invoke<SetupCheck[]>('check_setup'));
  } catch (error) {
    $('#setup-summary').textContent = messageOf(error);
    $('#setup-summary').className = 'error-text';
  }
}

$('#check-setup').addEventListener('click', () => void run());
$('#setup-again').addEventListener('click', () => void run());
listen<SetupCheck[]>('setup_checks', show);
