import type { Timestamp } from './values.ts';

/**
 * Commit times: the npm package stores millisecond Dates, so two commits in one millisecond
 * would share an update time and an `update_time` precondition could not tell them apart.
 * Every commit therefore takes max(now, last + 1 ms): unique and strictly increasing.
 */
export class CommitClock {
  #last = 0;

  next(): number {
    this.#last = Math.max(Date.now(), this.#last + 1);
    return this.#last;
  }

  /** Imported documents may carry later times; never hand out one that is not newer. */
  observe(millis: number): void {
    this.#last = Math.max(this.#last, millis);
  }
}

export function timestampFromMillis(millis: number): Timestamp {
  const seconds = Math.floor(millis / 1000);
  return { seconds, nanos: (millis - seconds * 1000) * 1_000_000 };
}

export function timestampsEqual(a: Timestamp, b: Timestamp): boolean {
  return Number(a.seconds) === Number(b.seconds) && a.nanos === b.nanos;
}

export function timestampToIso(ts: Timestamp): string {
  const iso = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 19);
  return `${iso}.${String(ts.nanos).padStart(9, '0')}Z`;
}

export function timestampFromIso(text: string): Timestamp {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) throw new Error(`invalid timestamp: ${text}`);
  const seconds = Math.floor(Date.parse(`${m[1]}${m[3]}`) / 1000);
  return { seconds, nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

export function millisFromTimestamp(ts: Timestamp): number {
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
}
