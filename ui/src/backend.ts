// One page, two shells: in the desktop window the page talks to Rust through Tauri's IPC
// (window.__TAURI__); in a browser against `maskgate --headless --dashboard` it calls the same
// commands over HTTP on its own origin, with the token from the address maskgate printed.
// No other network.

interface TauriGlobal {
  core: { invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> };
  event: { listen<T>(event: string, handler: (event: { payload: T }) => void): Promise<unknown> };
}

const tauri = (window as unknown as { __TAURI__?: TauriGlobal }).__TAURI__;

/// True inside the desktop app (pause/resume and the gateway settings live there).
export const inDesktopApp = tauri !== undefined;

const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? sessionStorage.getItem('maskgate-token');
if (!tauri && token) {
  // Kept for this tab only, and out of the address bar (and so out of history and bookmarks).
  sessionStorage.setItem('maskgate-token', token);
  history.replaceState(null, '', location.pathname);
}
const authorization = { authorization: `Bearer ${token ?? ''}` };

/// Runs a command of the control layer; rejects with `{ kind, message }`. The window and the
/// browser send the same name and arguments: over IPC to the one `control` command, or to
/// `/api/<command>`.
export async function invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  if (tauri) return tauri.core.invoke<T>('control', { command, args: args ?? {} });
  const response = await fetch(`/api/${command}`, {
    method: 'POST',
    headers: { ...authorization, 'content-type': 'application/json' },
    body: JSON.stringify(args ?? {}),
  });
  const answer: unknown = await response.json();
  if (!response.ok) throw answer;
  return answer as T;
}

type Handler = (payload: unknown) => void;
const handlers = new Map<string, Handler>();

/// Calls `handler` with each event of that name.
export function listen<T>(name: string, handler: (payload: T) => void): void {
  if (tauri) void tauri.event.listen<T>(name, ({ payload }) => handler(payload));
  else handlers.set(name, handler as Handler);
}

/// In a browser: reads /api/events (server-sent events, read with fetch so that the token
/// header goes along) and hands each event to its handler; reconnects a second after the
/// stream ends.
export async function followEvents(): Promise<never> {
  for (;;) {
    try {
      const response = await fetch('/api/events', { headers: authorization });
      if (!response.body) throw new Error(`events: ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      console.warn('event stream', error);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function dispatch(frame: string): void {
  let name = 'message';
  let data = '';
  for (const line of frame.split('\n')) {
    const colon = line.indexOf(':');
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).trimStart();
    if (field === 'event') name = value;
    if (field === 'data') data += value;
  }
  const handler = handlers.get(name);
  if (handler && data) handler(JSON.parse(data));
}
