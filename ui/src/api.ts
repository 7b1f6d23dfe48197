// What the Rust side sends: the shapes of dashboard::views and journal, as serde writes them.

export type Status =
  | { state: 'starting' }
  | { state: 'running'; address: string; base_url: string }
  | { state: 'paused' }
  | { state: 'error'; message: string };

export interface RecordSummary {
  id: number;
  started_unix_ms: number;
  method: string;
  path: string;
  model: string | null;
  streaming: boolean;
  status: number | null;
  outcome: 'in_flight' | 'completed' | 'refused' | 'failed';
  masking_ms: number | null;
  first_byte_ms: number | null;
  latency_ms: number | null;
  request_bytes: number;
  response_bytes: number;
  counts: Record<string, number>;
  masked_total: number;
  /// Images and PDFs in the request: maskgate cannot read them.
  attachments: number;
  /// The token usage the upstream reported.
  usage: Usage | null;
  error: string | null;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export type JournalEvent =
  | ({ event: 'record' } & RecordSummary)
  | { event: 'response_chunk'; id: number; text: string }
  | { event: 'cleared' };

export interface AlwaysMask {
  value: string;
  token_prefix: string;
}

export interface Lists {
  always: AlwaysMask[];
  never: string[];
  aws_known_values: boolean;
  attachments: 'refuse' | 'forward';
  /// How many known values each source gave; the values themselves never reach the page.
  known: Record<string, number>;
}

export interface TokenEntry {
  token: string;
  original: string;
  kind: string;
  /// The category's name.
  label: string;
  /// The masked text just before the token first appears: what named it.
  context: string;
}

export interface ExchangeDetail {
  summary: RecordSummary;
  masked_request: string;
  tokens: TokenEntry[];
  response: string;
  /// Tokens the model wrote that this request never minted: they stand for nothing.
  unminted: string[];
  /// This masked request against the previous turn of its conversation.
  previous_turn: TurnDiff | null;
}

/// A turn against the previous one, as the prompt cache reads a request: tools, system, messages.
export interface TurnDiff {
  previous_id: number;
  tools: 'same' | 'changed' | 'none';
  system: 'same' | 'changed' | 'none';
  /// Per message: 'same', 'changed' or 'added'.
  messages: ('same' | 'changed' | 'added')[];
  bytes: number;
  /// The leading parts unchanged since the previous turn: what the cache can reuse.
  cached_prefix_bytes: number;
}

export interface KindView {
  id: string;
  label: string;
  description: string;
  example: string;
  token_prefix: string;
  enabled: boolean;
  custom: boolean;
  regex: string | null;
  count: number;
  policy: Policy;
}

export type Policy = 'mask-and-restore' | 'mask-only' | 'refuse';

export interface CustomPattern {
  name: string;
  regex: string;
  token_prefix: string;
}

export interface Preview {
  masked: string;
  matches: number;
}

export interface GatewayView {
  upstream_url: string;
  auth: 'none' | 'key' | 'bearer' | 'basic';
  key_header: string;
  basic_user: string;
  anthropic_key: 'pass-through' | 'gateway-held';
  ca_file: string | null;
  listen: string;
  secret_set: boolean;
  local_token_set: boolean;
  editable: boolean;
}

export interface Health {
  status: string;
  upstream: string;
  reachable: boolean;
  http_status: number | null;
  credentials: string;
  detail: string;
}

/// One of maskgate doctor's checks: what was found and, when it failed, what to do.
export interface SetupCheck {
  ok: boolean;
  line: string;
  fix: string | null;
}

/// A refused command, as both shells report it.
export interface CommandError {
  message: string;
}

export const messageOf = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'message' in error ? String((error as CommandError).message) : String(error);
