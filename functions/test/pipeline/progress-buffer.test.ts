import { describe, expect, it, vi } from 'vitest';
import { ProgressBuffer } from '../../src/adapters/pipeline/progress-buffer';
import { quietLogger } from '../support/quiet-logger';

/**
 * Progress reports coalesce: one count per `batch` reports or after `flushMs`, one at a time per
 * (collection, marketplace), and every report is followed by a count that sees it.
 */

quietLogger();

function buffer(
  batch: number,
  flushMs: number,
  record = vi.fn(async (_collection: string, _marketplace: string) => {}),
) {
  return {
    record,
    progress: new ProgressBuffer(record, { batch: () => batch, flushMs: () => flushMs }),
  };
}

describe('progress buffer', () => {
  it('records one count per batch of reports, per collection and marketplace', async () => {
    const { record, progress } = buffer(3, 60_000);
    for (let i = 0; i < 9; i++) progress.report('c', 'takealot');
    progress.report('c', 'makro');
    await progress.flushAll();
    const of = (m: string) => record.mock.calls.filter(([, marketplace]) => marketplace === m);
    // At most one per batch (fewer when reports arrive while a count runs: they share the next).
    expect(of('takealot').length).toBeGreaterThanOrEqual(1);
    expect(of('takealot').length).toBeLessThanOrEqual(3);
    expect(of('makro')).toHaveLength(1);
  });

  it('records a lone report after the interval', async () => {
    const { record, progress } = buffer(3, 20);
    progress.report('c', 'takealot');
    expect(record).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(record).toHaveBeenCalledTimes(1), { timeout: 2_000 });
  });

  it('runs one count at a time per key, and one more for what arrived meanwhile', async () => {
    let release!: () => void;
    let inFlight = 0;
    let most = 0;
    const record = vi.fn(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      inFlight--;
    });
    const { progress } = buffer(1, 60_000, record);
    progress.report('c', 'm');
    progress.report('c', 'm'); // arrives while the first count runs
    progress.report('c', 'm');
    await vi.waitFor(() => expect(record).toHaveBeenCalledTimes(1));
    release();
    await vi.waitFor(() => expect(record).toHaveBeenCalledTimes(2));
    release();
    await progress.flushAll();
    expect(most).toBe(1);
    // The reports that arrived meanwhile were seen by a count after them.
    expect(record.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('a failed count is logged, not thrown, and the next report records again', async () => {
    let fail = true;
    const record = vi.fn(async () => {
      if (fail) throw new Error('unavailable');
    });
    const { progress } = buffer(1, 60_000, record);
    progress.report('c', 'm');
    await progress.flushAll();
    fail = false;
    progress.report('c', 'm');
    await progress.flushAll();
    expect(record).toHaveBeenCalledTimes(2);
    expect(progress.flushes).toBe(1);
  });
});
