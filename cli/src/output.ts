import cliProgress from 'cli-progress';
import Table from 'cli-table3';

/** Where the CLI writes: process.stdout / process.stderr, or a test's buffer. */
export interface Stream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** A progress bar for a long operation (validate, export, import). */
export interface ProgressBar {
  increment(by?: number): void;
  setTotal(total: number): void;
  stop(): void;
}

export interface Progress {
  start(label: string, total: number): ProgressBar;
}

export const noProgress: Progress = {
  start: () => ({ increment() {}, setTotal() {}, stop() {} }),
};

/** cli-progress bars on a terminal (stderr, so stdout stays the command's output). */
export function terminalProgress(stream: NodeJS.WritableStream): Progress {
  return {
    start(label, total) {
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label.padEnd(10)} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
      return {
        increment: (by = 1) => bar.increment(by),
        setTotal: (n) => bar.setTotal(n),
        stop: () => bar.stop(),
      };
    },
  };
}

/** A table without colours (they would end up in files and pipes). */
export function table(head: string[], rows: unknown[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map(cell));
  return t.toString();
}

/** Label / value pairs as a two-column table. */
export function pairs(rows: Array<[string, unknown]>): string {
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of rows) t.push({ [k]: cell(v) });
  return t.toString();
}

export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${Number(value.toFixed(2))}%`;
}

/** `1h 5m`, `12s`: a duration for people. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/**
 * An epoch-ms time as ISO text; '-' for none and for values no Date holds (not finite, or
 * |ms| > 8.64e15: an ETA of a collection far from its target), which would throw RangeError.
 */
export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    return '-';
  }
  return new Date(ms).toISOString();
}
