// The maskgate dashboard: the header (status, pause/resume), the tabs, and start-up.

import './style.css';
import type { JournalEvent, KindView, RecordSummary, Status } from './api';
import { followEvents, inDesktopApp, invoke, listen } from './backend';
import { $ } from './dom';
import { onJournalEvent, setProxyAddress, showInitial } from './live';
import { loadKinds, loadLists } from './patterns';
import { loadSettings } from './settings';
import './setup';

let status: Status = { state: 'starting' };

function showStatus(next: Status): void {
  status = next;
  const pill = $('#status');
  pill.className = `pill ${next.state}`;
  switch (next.state) {
    case 'running':
      pill.textContent = `masking on ${next.address}`;
      setProxyAddress(next.address);
      $('#empty-line').textContent = `export ANTHROPIC_BASE_URL=${next.base_url}`;
      break;
    case 'paused': pill.textContent = 'paused'; break;
    case 'starting': pill.textContent = 'starting…'; break;
    case 'error': pill.textContent = next.message; break;
  }
  $('#toggle').textContent = next.state === 'running' ? 'Pause' : 'Resume';
}

// Pausing is the desktop app's; the headless proxy lives as long as its process.
$('#toggle').hidden = !inDesktopApp;
$('#toggle').addEventListener('click', () => void invoke(status.state === 'running' ? 'pause' : 'resume'));
$('#clear').addEventListener('click', () => void invoke('clear_journal'));

const tabs = [...document.querySelectorAll<HTMLElement>('[role="tab"]')];
for (const tab of tabs) {
  tab.addEventListener('click', () => {
    for (const other of tabs) {
      other.setAttribute('aria-selected', String(other === tab));
      $(`#${other.dataset.tab ?? ''}`).hidden = other !== tab;
    }
    if (tab.dataset.tab === 'patterns') { void loadKinds(); void loadLists(); }
    if (tab.dataset.tab === 'settings') void loadSettings();
  });
}

listen<JournalEvent>('journal', onJournalEvent);
listen<Status>('status', showStatus);
if (!inDesktopApp) void followEvents();
showStatus(await invoke<Status>('status'));
const rows = await invoke<RecordSummary[]>('exchanges');
const totals = Object.fromEntries((await invoke<KindView[]>('catalog')).map((k) => [k.id, k.count]));
showInitial(rows, totals);
