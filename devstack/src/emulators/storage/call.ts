import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResumableSessions } from './resumable.ts';
import type { Store } from './store.ts';

/** Everything a handler needs for one request: the exchange, its query and the state. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  /** Scheme and host the client used, for links and session URIs. */
  origin: string;
  store: Store;
  sessions: ResumableSessions;
}
