import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WriteBuffer } from '../../functions/src/adapters/storage/write-buffer.ts';
import { FleetAccumulator } from '../../functions/src/core/observability/fleet-writes.ts';
import {
  type ApiFixture,
  apiFixture,
  auditEntries,
  changedPaths,
  quickSnapshot,
  recordWrites,
  SEED_COLLECTION,
} from '../../functions/test/api/support.ts';
import { parseFlagSettings, parseTargets } from '../src/argument-parsers.ts';
import { ACTOR_EMAIL, cli, RecordedProgress } from './support.ts';

let fixture: ApiFixture;

beforeEach(async () => {
  fixture = await apiFixture();
});
afterEach(() => fixture.close());

/** Runs the command and checks it wrote nothing at all. */
async function writesNothing(args: string[]) {
  const before = await quickSnapshot(fixture.db);
  const log = recordWrites(fixture.db);
  try {
    const run = await cli(fixture, args);
    expect(log.paths()).toEqual([]);
    expect(changedPaths(before, await quickSnapshot(fixture.db))).toEqual([]);
    return run;
  } finally {
    log.stop();
  }
}

describe('status', () => {
  it('prints the operation answer as JSON with --json', async () => {
    const run = await cli(fixture, ['--json', 'status']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const status = JSON.parse(run.stdout);
    expect(status.projectId).toBe('demo-test'); // the operation's deps answer it
    expect(status.providers.map((p: { id: string }) => p.id)).toEqual(['keepa', 'spapi']);
    expect(status.categories.find((c: { id: string }) => c.id === 'deals')).toMatchObject({
      provider: 'keepa',
      sharePercent: 40,
    });
    expect(status.cooldowns).toEqual([expect.objectContaining({ provider: 'keepa' })]);
  });

  it('prints tables for people', async () => {
    const run = await cli(fixture, ['status', '--window', '10']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('maintenance');
    expect(run.stdout).toMatch(/│ deals\s+│ keepa\s+│ 40%/);
    expect(run.stdout).toContain('cooling down');
    expect(run.stdout).toContain('(10m)');
    expect(run.stdout).not.toContain('\u001b['); // no colours in pipes
  });

  it("shows every instance's upstream calls with their latency next to the usage", async () => {
    const acc = new FleetAccumulator();
    const atMs = Date.now() - 60_000;
    for (const latencyMs of [20, 30, 40, 900]) {
      acc.add({ provider: 'keepa', operation: 'product', outcome: 'ok', latencyMs, atMs });
    }
    acc.add({ provider: 'keepa', operation: 'product', outcome: 'quota', latencyMs: 10, atMs });
    const buffer = new WriteBuffer(fixture.db, { intervalMs: 1 });
    await Promise.all(acc.drain(0).map((w) => buffer.merge(w.path, w.data)));
    const run = await cli(fixture, ['stats', '--minutes', '10']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('upstream, every instance (minutes)');
    expect(run.stdout).toMatch(/│ keepa\s+│ product\s+│ 5\s+│ 20%\s+│ 20%\s+│ \d+ ms\s+│ \d+ ms/);
  });

  it('reads a collection', async () => {
    const run = await cli(fixture, ['collection', SEED_COLLECTION]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(SEED_COLLECTION);
    expect(run.stdout).toMatch(/│ takealot\s+│ 0\s+│ 100/);
  });

  it('lists the collections, and the phase timeline of one', async () => {
    const run = await writesNothing(['collections', '--status', 'running']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`│ ${SEED_COLLECTION}\\s+│ keepa / deals\\s+│ running`));
    const json = JSON.parse((await cli(fixture, ['--json', 'collections'])).stdout);
    expect(json).toMatchObject({ truncated: false, collections: [{ id: SEED_COLLECTION }] });
    const bad = await cli(fixture, ['collections', '--status', 'done']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('status');
    const one = await cli(fixture, ['collection', SEED_COLLECTION]);
    expect(one.stdout).toMatch(/│ 1\s+│ 0%\s+│ 15%.*│ \(current\)/);
  });

  it('lists the audit log, newest first, a page at a time', async () => {
    await cli(fixture, ['allocate', 'deals', '35']);
    // Entries are ordered by their time: the fixture's clock moves, so the newest is the 36%.
    fixture.clock.now += 1_000;
    await cli(fixture, ['allocate', 'deals', '36']);
    const run = await writesNothing(['audit', '--limit', '1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/setCategoryAllocation\s+│ categories\/deals/);
    expect(run.stdout).toContain('"sharePercent":36');
    const cursor = /more: --after (\S+)/.exec(run.stdout)?.[1];
    expect(cursor).toBeDefined();
    const next = JSON.parse(
      (
        await cli(fixture, [
          '--json',
          'audit',
          '--after',
          cursor!,
          '--what',
          'setCategoryAllocation',
        ])
      ).stdout,
    );
    expect(next.entries).toHaveLength(1);
    expect(next.entries[0].after).toMatchObject({ sharePercent: 35 });
    expect(next.nextCursor).toBeNull();
  });

  it('answers not-found for a collection that does not exist (exit 1)', async () => {
    const run = await writesNothing(['collection', 'nope']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error (not-found): collection "nope" does not exist');
  });
});

describe('changes', () => {
  it('allocates a share through setCategoryAllocation, audited as the CLI', async () => {
    const run = await cli(fixture, ['allocate', 'deals', '35']);
    expect(run.code).toBe(0);
    expect((await fixture.db.doc('categories/deals').get()).get('sharePercent')).toBe(35);
    const entries = await auditEntries(fixture.db);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      who: { uid: 'cli', email: ACTOR_EMAIL, role: 'admin' },
      what: 'setCategoryAllocation',
      target: 'categories/deals',
      before: expect.objectContaining({ sharePercent: 40 }),
      after: expect.objectContaining({ sharePercent: 35 }),
    });
    expect(run.stdout).toContain(entries[0]!.id);
  });

  it('pins a share with --override and answers JSON', async () => {
    const run = await cli(fixture, ['allocate', 'historical', '20', '--override', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.category).toMatchObject({ id: 'historical', overridePercent: 20 });
    expect(result.auditId).toEqual(expect.any(String));
  });

  it('starts a collection with a deadline and shows where it stands against it', async () => {
    const args = ['collect', 'c2', '--provider', 'keepa', '--category', 'historical'];
    args.push('--phases', '[{"fromPercent":0,"sharePercent":25}]', '--target', 'takealot=800');
    const started = await cli(fixture, [
      ...args,
      '--deadline',
      '2026-12-24T00:00Z',
      '--raise-share-up-to',
      '35',
    ]);
    expect(started.code, started.stderr).toBe(0);
    expect((await fixture.db.doc('collections/c2').get()).get('deadline')).toEqual({
      atMs: Date.parse('2026-12-24T00:00Z'),
      raiseShare: { maxSharePercent: 35 },
    });
    const shown = await cli(fixture, ['collection', 'c2']);
    expect(shown.stdout).toMatch(/│ deadline\s+│ 2026-12-24/);
    expect(shown.stdout).toMatch(/│ raise share\s+│ up to 35/);
    const bad = await cli(fixture, [...args, '--deadline', 'next tuesday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ISO 8601');
  });

  it('validates one marketplace and shows the report', async () => {
    const validated = await cli(fixture, ['validate', '--marketplace', 'takealot']);
    expect(validated.code, validated.stderr).toBe(0);
    const report = await cli(fixture, ['validation', '--marketplace', 'takealot']);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/│ latest run\s+│ .*-manual-takealot/);
    expect(report.stdout).toContain('takealot~unsure');
  });

  it('changes a provider and starts a cooldown by hand', async () => {
    const set = await cli(fixture, [
      'provider',
      'set',
      'keepa',
      '--limits',
      '[{"kind":"tokenBucket","capacity":400,"refillPerSecond":6}]',
      '--cooldown-seconds',
      '900',
      '--setting',
      'domainId=3',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect((await fixture.db.doc('providers/keepa').get()).data()).toMatchObject({
      cooldownSeconds: 900,
      settings: { domainId: 3 },
      limits: [{ kind: 'tokenBucket', capacity: 400, refillPerSecond: 6 }],
    });
    const bad = await cli(fixture, ['provider', 'set', 'keepa', '--base-url', 'ftp://x.example']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('baseUrl');
    const started = await cli(fixture, [
      'cooldown',
      'start',
      'keepa',
      '--seconds',
      '3600',
      '--reason',
      'upstream maintenance',
    ]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain('cooling down until');
    const entries = await auditEntries(fixture.db);
    expect(entries.map((e) => e.what).sort()).toEqual(['setProviderLimits', 'startCooldown']);
  });

  it('restarts a stalled collection through restartCollection, audited as the CLI', async () => {
    await fixture.db.doc(`collections/${SEED_COLLECTION}`).update({ status: 'stalled' });
    const run = await cli(fixture, ['restart', SEED_COLLECTION]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/│ status\s+│ running/);
    expect(run.stdout).toMatch(/│ restarts\s+│ 1/);
    const stored = (await fixture.db.doc(`collections/${SEED_COLLECTION}`).get()).data();
    expect(stored).toMatchObject({ status: 'running', restarts: 1 });
    const entries = await auditEntries(fixture.db);
    expect(entries.map((e) => e.what)).toEqual(['restartCollection']);
    const refused = await cli(fixture, ['restart', 'nope']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not-found');
  });

  it('starts a collection with targets, then adjusts them', async () => {
    // A Keepa collection keeps a share that carries its 60-token commit batches (the default
    // phases' 15% and below do not: refused, see functions/test/api/share-check.test.ts).
    const args = ['collect', 'c1', '--provider', 'keepa', '--category', 'historical'];
    args.push('--phases', '[{"fromPercent":0,"sharePercent":25}]');
    const started = await cli(fixture, [...args, '--target', 'takealot=800', 'makro=400']);
    expect(started.code).toBe(0);
    expect((await fixture.db.doc('collections/c1').get()).get('marketplaces')).toEqual({
      takealot: expect.objectContaining({ target: 800 }),
      makro: expect.objectContaining({ target: 400 }),
    });
    const adjusted = await cli(fixture, [...args, '--target', 'takealot=900', '--json']);
    expect(adjusted.code).toBe(0);
    expect(JSON.parse(adjusted.stdout)).toMatchObject({ created: false, changed: true });
    const whats = (await auditEntries(fixture.db)).map((e) => e.what);
    expect(whats).toEqual(['startCollection', 'startCollection']);
  });

  it('pauses and resumes, clears a cooldown, and toggles maintenance with a reason', async () => {
    expect((await cli(fixture, ['pause', 'deals'])).code).toBe(0);
    expect((await fixture.db.doc('categories/deals').get()).get('paused')).toBe(true);
    expect((await cli(fixture, ['resume', 'deals'])).code).toBe(0);
    expect((await fixture.db.doc('categories/deals').get()).get('paused')).toBe(false);
    const cleared = await cli(fixture, ['cooldown', 'clear', 'keepa', '--json']);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ provider: 'keepa', cleared: true });
    const on = await cli(fixture, ['maintenance', 'on', '--reason', 'provider migration']);
    expect(on.code).toBe(0);
    expect((await fixture.db.doc('config/flags').get()).get('maintenance')).toBe(true);
    // The fixture's clock stands still: the entries' order is not the commands' order.
    const entries = await auditEntries(fixture.db);
    expect(entries.map((e) => e.what).sort()).toEqual([
      'clearCooldown',
      'pauseCategory',
      'resumeCategory',
      'setMaintenanceMode',
    ]);
    expect(entries.find((e) => e.what === 'setMaintenanceMode')!.reason).toBe('provider migration');
    expect(entries.every((e) => e.who.uid === 'cli' && e.who.role === 'admin')).toBe(true);
  });

  it("purges a provider's queues with a reason, and shows the queues maintenance paused", async () => {
    fixture.queues.queues.get('keepaWork')!.tasks = 9;
    const purged = await cli(fixture, [
      '--json',
      'queues',
      'purge',
      'keepa',
      '--reason',
      'bad batch',
    ]);
    expect(purged.code).toBe(0);
    expect(JSON.parse(purged.stdout)).toMatchObject({ provider: 'keepa', dropped: 9 });
    expect(fixture.queues.queues.get('keepaWork')!.tasks).toBe(0);
    const noReason = await cli(fixture, ['queues', 'purge', 'keepa']);
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toContain('--reason');
    const on = await cli(fixture, ['maintenance', 'on']);
    expect(on.stdout).toMatch(/keepaWork\s*│\s*PAUSED/);
  });

  it('shows and sets flags and pipeline settings', async () => {
    const shown = await cli(fixture, ['--json', 'flags']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ maintenance: false });
    const set = await cli(fixture, [
      '--json',
      'flags',
      '--set',
      'maxAwaitSeconds=30',
      '--set',
      'pipeline.collections.stalledAfterMinutes=90',
    ]);
    expect(set.code).toBe(0);
    const result = JSON.parse(set.stdout);
    expect(result.flags.maxAwaitSeconds).toBe(30);
    expect(result.pipeline.collections.stalledAfterMinutes).toBe(90);
  });

  it('runs a validation with progress over the products it checks', async () => {
    const progress = new RecordedProgress();
    const quiet = new RecordedProgress();
    const run = await cli(fixture, ['--json', 'validate'], { progress: quiet });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ products: 2, status: 'completed' });
    // --json never draws bars; without it the bar counts every product checked.
    expect(quiet.bars).toEqual([]);
    const human = await cli(fixture, ['validate'], { progress });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('pass rate');
    expect(progress.bars).toEqual([{ label: 'validate', total: 2, value: 2, stopped: true }]);
  });

  it('flushes pending aggregations', async () => {
    const run = await cli(fixture, ['--json', 'flush', '--item', 'item-1']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).results['item-1']).toBeDefined();
  });

  it('runs any callable by name and lists them', async () => {
    const run = await cli(fixture, ['call', 'getRecentWarnings', '{"limit":5}']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).warnings).toHaveLength(1);
    const list = await cli(fixture, ['--json', 'callables']);
    const names = JSON.parse(list.stdout).map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['getStatus', 'startCollection', 'setUserRole']));
  });
});

describe('invalid input', () => {
  it('exits 1 naming the field, and writes nothing', async () => {
    const run = await writesNothing(['allocate', 'deals', '150']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('error (invalid-argument)');
    expect(run.stderr).toContain('sharePercent');
    expect(await auditEntries(fixture.db)).toEqual([]);
  });

  it('names nested fields: a target count, a flag, a pipeline setting', async () => {
    const target = await writesNothing([
      'collect',
      'c1',
      '--provider',
      'keepa',
      '--category',
      'deals',
      '--target',
      'takealot=0',
    ]);
    expect(target.code).toBe(1);
    expect(target.stderr).toContain('targets.takealot');
    const flag = await writesNothing(['flags', '--set', 'maintenance=true']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain('flags.maintenance');
    const pipeline = await writesNothing([
      'flags',
      '--set',
      'pipeline.collections.stalledAfterMinutes=-1',
    ]);
    expect(pipeline.code).toBe(1);
    expect(pipeline.stderr).toContain('pipeline.collections.stalledAfterMinutes');
  });

  it('reports the issues as JSON on stderr with --json', async () => {
    const run = await writesNothing(['--json', 'allocate', 'Not An Id', '5']);
    expect(run.code).toBe(1);
    const { error } = JSON.parse(run.stderr);
    expect(error.code).toBe('invalid-argument');
    expect(error.issues).toEqual([{ path: 'category', message: expect.any(String) }]);
  });

  it('refuses what only the operation knows (failed-precondition), writing nothing', async () => {
    const run = await writesNothing([
      'collect',
      'c1',
      '--provider',
      'spapi',
      '--category',
      'deals',
      '--target',
      'takealot=5',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error (failed-precondition)');
  });
});

describe('usage errors (exit 2)', () => {
  it.each([
    [[]],
    [['bogus']],
    [['allocate', 'deals']],
    [['allocate', 'deals', 'abc']],
    [['maintenance', 'maybe']],
    [['collect', 'c1', '--provider', 'keepa', '--category', 'deals', '--target', 'takealot']],
    [['collect', 'c1', '--provider', 'keepa', '--category', 'deals']],
    [['flags', '--set', 'novalue']],
    [['call', 'noSuchCallable']],
    [['call', 'getStatus', '{not json']],
  ])('%j', async (args) => {
    const run = await writesNothing(args);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toBe('');
  });

  it('refuses a bad command line before connecting to anything', async () => {
    let connected = 0;
    const connect = async () => {
      connected++;
      throw new Error('no connection in this test');
    };
    const bad = [
      ['collect', 'c1', '--provider', 'keepa', '--category', 'deals', '--target', 'x'],
      ['call', 'noSuchCallable'],
      ['flags', '--set', 'pipeline.x=1'],
    ];
    for (const args of bad) expect((await cli(fixture, args, { connect })).code).toBe(2);
    expect(connected).toBe(0);
  });

  it('needs a project', async () => {
    const run = await cli(fixture, ['status'], { env: {} });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--project');
  });

  it('prints help on stdout with exit 0', async () => {
    const run = await cli(fixture, ['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: tollgate');
    expect(run.stdout).toContain('Exit codes');
    const command = await cli(fixture, ['help', 'collect']);
    expect(command.code).toBe(0);
    expect(command.stdout).toContain('--target <marketplace=count...>');
  });
});

describe('argument parsing', () => {
  it('parses marketplace=count targets', () => {
    expect(parseTargets(['takealot=800', 'makro=400'])).toEqual({ takealot: 800, makro: 400 });
    expect(() => parseTargets(['takealot'])).toThrow(/marketplace=count/);
    expect(() => parseTargets(['a=1', 'a=2'])).toThrow(/twice/);
    // The schema, not the parser, judges the count and the id.
    expect(parseTargets(['Bad=-1'])).toEqual({ Bad: -1 });
  });

  it('parses flag and pipeline settings', () => {
    expect(parseFlagSettings(['maxAwaitSeconds=30', 'flags.dailyAuditEnabled=false'])).toEqual({
      flags: { maxAwaitSeconds: 30, dailyAuditEnabled: false },
    });
    expect(parseFlagSettings(['pipeline.batching.peekSize=10'])).toEqual({
      pipeline: { batching: { peekSize: 10 } },
    });
    expect(() => parseFlagSettings(['pipeline.x=1'])).toThrow(/section/);
  });
});
