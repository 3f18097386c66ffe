import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WriteBuffer } from '../../functions/src/adapters/storage/write-buffer.ts';
import { demandStatsUpdate } from '../../functions/src/core/storage/write-buffer/demand-stats.ts';
import { type ApiFixture, apiFixture } from '../../functions/test/api/support.ts';
import { parseReplayTime } from '../src/replay.ts';
import { cli, RecordedProgress } from './support.ts';

let fixture: ApiFixture;
let dir: string;
/** Recorded demand ends a minute ago; the CLI reads times against the real clock. */
const TO = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;

async function record(fromMs: number, toMs: number, stepMs: number) {
  const buffer = new WriteBuffer(fixture.db);
  const writes: Array<Promise<void>> = [];
  for (let t = fromMs; t < toMs; t += stepMs) {
    for (const category of ['deals', 'historical']) {
      const w = demandStatsUpdate({
        provider: 'keepa',
        category,
        at: t,
        cost: 1,
        bytes: 0,
        requests: 1,
        outcome: 'granted',
        attempt: 0,
      });
      writes.push(buffer.merge(w.path, w.data));
    }
  }
  await buffer.flush();
  await Promise.all(writes);
}

async function policyFile(policy: unknown): Promise<string> {
  const path = join(dir, 'policy.json');
  await writeFile(path, JSON.stringify(policy));
  return path;
}

beforeEach(async () => {
  fixture = await apiFixture();
  dir = await mkdtemp(join(tmpdir(), 'tollgate-replay-'));
});
afterEach(() => fixture.close());

describe('tollgate replay', () => {
  it('prints current and proposed side by side, and the whole answer with --json', async () => {
    await record(TO - 5 * 60_000, TO, 400);
    const policy = await policyFile({ categories: [{ id: 'deals', sharePercent: 10 }] });
    const from = new Date(TO - 5 * 60_000).toISOString();
    const to = new Date(TO).toISOString();
    const human = await cli(fixture, ['replay', '--from', from, '--to', to, '--policy', policy]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('Policy changes: categories/deals');
    expect(human.stdout).toMatch(/│ keepa\s+│ bucket\s+│ [\d.]+% -> [\d.]+%/);
    expect(human.stdout).toMatch(/│ keepa\/deals\s+│ \d+\s+│ \d+ -> \d+/);
    expect(human.stdout).toContain('Predicted upstream 429s');

    const json = await cli(fixture, [
      '--json',
      'replay',
      '--from',
      String(TO - 5 * 60_000),
      '--to',
      String(TO),
      '--policy',
      policy,
      '--seed',
      '7',
    ]);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result.seed).toBe(7);
    expect(result.documents).toBe(10);
    const deals = (side: 'current' | 'proposed') =>
      result[side].categories.find((c: { category: string }) => c.category === 'deals');
    expect(deals('proposed').granted).toBeLessThan(deals('current').granted);
  }, 60_000);

  it('shows a progress bar for a long range', async () => {
    await record(TO - 70 * 60_000, TO, 6_000);
    const progress = new RecordedProgress();
    const policy = await policyFile({ flags: { maxAwaitSeconds: 5 } });
    const run = await cli(
      fixture,
      ['replay', '--from', '-72m', '--to', '-1m', '--policy', policy],
      { progress },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(progress.bars).toHaveLength(1);
    expect(progress.bars[0]).toMatchObject({ label: 'replay', stopped: true });
    expect(progress.bars[0]!.value).toBeGreaterThan(progress.bars[0]!.total * 0.9);
  }, 60_000);

  it('refuses bad times, unreadable policies and invalid documents, naming them', async () => {
    const bad = await cli(fixture, [
      'replay',
      '--from',
      'yesterday',
      '--to',
      'now',
      '--policy',
      'x',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--from takes now');
    const missing = await cli(fixture, [
      'replay',
      '--from',
      '-1h',
      '--to',
      'now',
      '--policy',
      join(dir, 'none.json'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read --policy');
    const invalid = await cli(fixture, [
      'replay',
      '--from',
      '-1h',
      '--to',
      'now',
      '--policy',
      await policyFile({ categories: [{ id: 'deals', sharePercent: 300 }] }),
    ]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('policy.categories[0].sharePercent');
    const tooLong = await cli(fixture, [
      'replay',
      '--from',
      '-3d',
      '--to',
      'now',
      '--policy',
      await policyFile({}),
    ]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain('to: a range of at most 24 hours');
  });

  it('reads relative, ISO and epoch times', () => {
    const now = Date.UTC(2026, 11, 6, 12);
    expect(parseReplayTime('now', now, '--to')).toBe(now);
    expect(parseReplayTime('-6h', now, '--from')).toBe(now - 6 * 3_600_000);
    expect(parseReplayTime('2026-12-06T08:00:00Z', now, '--from')).toBe(Date.UTC(2026, 11, 6, 8));
    expect(parseReplayTime(String(now), now, '--from')).toBe(now);
  });
});
