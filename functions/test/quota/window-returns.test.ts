import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUOTA_COLLECTIONS } from '../../src/adapters/quota/collections';
import { QuotaEngine } from '../../src/adapters/quota/quota-engine';
import { WindowReturns } from '../../src/adapters/quota/returns';
import { installShutdownRelease } from '../../src/adapters/quota/shutdown-release';
import type { OwnedBlock } from '../../src/core/quota/token-source';
import { testFirestore } from '../support/firestore';
import { dayClock, dayProvider, sleep } from './window-support';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());

const returns = () => db.collection(QUOTA_COLLECTIONS.returns);

/**
 * Workers calling through instances that each serve `lifetime` calls and are then replaced:
 * shut down (giving back what they hold) or, without give-back, simply dropped. Each worker
 * stops once told three times running to come back in the next window. Returns the grants.
 */
async function recycled(options: {
  provider: string;
  category: string;
  workers: number;
  lifetime: number;
  giveBack: boolean;
  clock: ReturnType<typeof dayClock>;
}): Promise<{ grants: number; engines: number; writes: number }> {
  const { provider, category, clock } = options;
  let grants = 0;
  let engines = 0;
  let writes = 0;
  const windowEnd = clock.window().endMs;
  const create = () =>
    new QuotaEngine(db, { now: clock.now, instanceId: `${provider}-${++engines}` });
  const retire = async (engine: QuotaEngine) => {
    if (options.giveBack) await engine.shutdown();
    writes += engine.firestoreWrites();
  };
  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      let engine = create();
      let calls = 0;
      let nextWindow = 0;
      for (let attempt = 0; attempt < 2_000 && nextWindow < 3; attempt++) {
        const decision = await engine.acquire({ provider, category, requests: 1, maxWaitMs: 0 });
        if (decision.kind === 'granted') {
          grants++;
          nextWindow = 0;
          decision.release();
        } else if (decision.atMs >= windowEnd) {
          nextWindow++;
          await sleep(20);
        } else {
          await sleep(Math.max(1, Math.min(decision.atMs - clock.now(), 100)));
        }
        if (++calls >= options.lifetime) {
          await retire(engine);
          engine = create();
          calls = 0;
        }
      }
      await retire(engine);
    }),
  );
  return { grants, engines, writes };
}

describe('window tokens given back by departing and idle instances', () => {
  it('recycled instances together spend the whole day window, never more', async () => {
    // Instances make 3 calls each and are replaced; each claims a 10-request block of a
    // 200-request day window and could spend only 3 of it. Given back on shutdown, the rest
    // is spent by the instances that follow.
    const clock = dayClock();
    const category = await dayProvider(db, 'recycled', 200, 10);
    const { grants, engines, writes } = await recycled({
      provider: 'recycled',
      category,
      workers: 5,
      lifetime: 3,
      giveBack: true,
      clock,
    });
    expect(grants).toBeGreaterThanOrEqual(190);
    expect(grants).toBeLessThanOrEqual(200);
    expect(engines).toBeGreaterThan(60);
    // A write buys several calls even so: claims, ranges given back and ranges taken.
    expect(writes / grants).toBeLessThan(1);
    const left = await returns()
      .where('limit', '==', 'recycled~recycled-all~0')
      .where('taken', '==', false)
      .get();
    const unspent = left.docs.reduce((sum, d) => sum + d.get('end') - d.get('start'), 0);
    expect(grants + unspent).toBeLessThanOrEqual(200);
  });

  it('without give-back, the same instances strand most of the window', async () => {
    const clock = dayClock();
    const category = await dayProvider(db, 'stranded', 200, 10);
    const { grants } = await recycled({
      provider: 'stranded',
      category,
      workers: 5,
      lifetime: 3,
      giveBack: false,
      clock,
    });
    expect(grants).toBeLessThanOrEqual(200);
    expect(grants).toBeLessThan(120);
  });

  it("gives an idle instance's window tokens back; another instance spends them", async () => {
    const clock = dayClock();
    const provider = 'idle';
    const category = await dayProvider(db, provider, 20, 10);
    const call = (engine: QuotaEngine) =>
      engine.acquire({ provider, category, requests: 1, maxWaitMs: 0 });
    const idle = new QuotaEngine(db, {
      now: clock.now,
      instanceId: 'idle-a',
      idleTimer: true,
      idleCheckMs: 50,
      random: () => 0,
    });
    const busy = new QuotaEngine(db, { now: clock.now, instanceId: 'busy-b' });
    try {
      // The idle instance claims a block of 10 and spends 1; the busy one takes the other.
      expect(await call(idle)).toMatchObject({ kind: 'granted' });
      for (let i = 0; i < 10; i++) expect(await call(busy)).toMatchObject({ kind: 'granted' });
      const spent = await call(busy);
      expect(spent).toMatchObject({ kind: 'retryAt', reason: 'window' });
      expect(spent.atMs).toBeGreaterThanOrEqual(clock.window().endMs);
      await sleep(200);
      expect((await returns().where('limit', '==', `${provider}~${category}~0`).get()).size).toBe(
        0,
      );

      // Idle for the idle time: its timer gives the 9 tokens back.
      clock.advance(31_000);
      let given = await returns().where('limit', '==', `${provider}~${category}~0`).get();
      for (let i = 0; i < 100 && given.empty; i++) {
        await sleep(20);
        given = await returns().where('limit', '==', `${provider}~${category}~0`).get();
      }
      expect(given.docs.map((d) => d.data())).toEqual([
        expect.objectContaining({
          limit: `${provider}~${category}~0`,
          windowStart: clock.window().startMs,
          windowEnd: clock.window().endMs,
          start: 1,
          end: 10,
          taken: false,
          givenBy: 'idle-a',
        }),
      ]);
      expect(given.docs[0]!.get('expiresAt').toMillis()).toBe(clock.window().endMs);

      // The busy instance spends them: 9 more grants, then the window is spent.
      for (let i = 0; i < 9; i++) expect(await call(busy)).toMatchObject({ kind: 'granted' });
      const after = await call(busy);
      expect(after).toMatchObject({ kind: 'retryAt', reason: 'window' });
      expect(after.atMs).toBeGreaterThanOrEqual(clock.window().endMs);
      const taken = await returns().doc(given.docs[0]!.id).get();
      expect(taken.get('taken')).toBe(true);
      expect(taken.get('takenBy')).toBe('busy-b');
      // The idle instance no longer holds them.
      expect(idle.gate.held(`${provider}~${category}~0`, clock.now())).toBe(0);
    } finally {
      await Promise.all([idle.shutdown(), busy.shutdown()]);
    }
  });

  it('a returned range goes to exactly one of the instances racing for it', async () => {
    const clock = dayClock();
    const window = clock.window();
    const key = 'race~race-all~0';
    const giver = new WindowReturns(db, 'giver', { now: clock.now });
    for (let round = 0; round < 20; round++) {
      const block: OwnedBlock = {
        id: `block-${round}`,
        start: 3,
        end: 10,
        cursor: 3,
        validFromMs: window.startMs,
        validUntilMs: window.endMs,
        expiresAtMs: window.endMs,
      };
      expect(await giver.give(key, block)).toBe(true);
      // A retried write of the same range does not give it twice.
      expect(await giver.give(key, block)).toBe(false);
      // Same random source everywhere: every taker goes for the same range first.
      const takers = Array.from(
        { length: 6 },
        (_, i) => new WindowReturns(db, `taker-${round}-${i}`, { now: clock.now, random: () => 0 }),
      );
      const taken = await Promise.all(takers.map((t) => t.take(key, window)));
      expect(taken.filter((b) => b !== undefined)).toEqual([
        expect.objectContaining({ start: 3, end: 10, validFromMs: window.startMs }),
      ]);
    }
  });

  it('instances racing for returned ranges never grant more than the window', async () => {
    // Rounds of two cold instances, same random choices, each making calls at once while the
    // window's regular blocks are spent and the tokens are in returned ranges.
    const clock = dayClock();
    const provider = 'racing';
    const category = await dayProvider(db, provider, 60, 10);
    const call = (engine: QuotaEngine) =>
      engine.acquire({ provider, category, requests: 1, maxWaitMs: 0 });
    let grants = 0;
    // Six instances each claim a block, spend one token and go away: 54 tokens given back.
    for (let i = 0; i < 6; i++) {
      const engine = new QuotaEngine(db, { now: clock.now, instanceId: `seed-${i}` });
      if ((await call(engine)).kind === 'granted') grants++;
      await engine.shutdown();
    }
    expect(grants).toBe(6);
    for (let round = 0; round < 30; round++) {
      const pair = [0, 1].map(
        (i) =>
          new QuotaEngine(db, {
            now: clock.now,
            instanceId: `pair-${round}-${i}`,
            random: () => 0,
          }),
      );
      const decisions = await Promise.all(
        pair.flatMap((engine) => [call(engine), call(engine), call(engine)]),
      );
      grants += decisions.filter((d) => d.kind === 'granted').length;
      await Promise.all(pair.map((engine) => engine.shutdown()));
    }
    expect(grants).toBeLessThanOrEqual(60);
    expect(grants).toBeGreaterThanOrEqual(57);
  });

  it('gives window tokens back on SIGTERM, then re-raises the signal', async () => {
    const clock = dayClock();
    const provider = 'sigterm';
    const category = await dayProvider(db, provider, 20, 10);
    const engine = new QuotaEngine(db, { now: clock.now, instanceId: 'terminated' });
    expect(await engine.acquire({ provider, category, requests: 1, maxWaitMs: 0 })).toMatchObject({
      kind: 'granted',
    });
    const killed = new Promise<string>((resolve) => {
      const target = Object.assign(new EventEmitter(), {
        pid: 4242,
        kill: (_pid: number, signal: string) => resolve(signal),
      });
      installShutdownRelease(engine, { target });
      target.emit('SIGTERM');
    });
    expect(await killed).toBe('SIGTERM');
    const given = await returns().where('limit', '==', `${provider}~${category}~0`).get();
    expect(given.docs.map((d) => d.get('end') - d.get('start'))).toEqual([9]);
  });

  it('does not hold the process on SIGTERM longer than its timeout', async () => {
    const started = Date.now();
    const killed = new Promise<number>((resolve) => {
      const target = Object.assign(new EventEmitter(), {
        pid: 1,
        kill: () => resolve(Date.now() - started),
      });
      // A shutdown that never finishes (Firestore unreachable).
      installShutdownRelease(
        { shutdown: () => new Promise<void>(() => {}) },
        {
          target,
          timeoutMs: 100,
        },
      );
      target.emit('SIGTERM');
    });
    expect(await killed).toBeLessThan(1_000);
  });

  it('quotaReturns expire with their window (TTL policy on expiresAt)', () => {
    const config = JSON.parse(
      readFileSync(join(__dirname, '..', '..', '..', 'firestore.indexes.json'), 'utf8'),
    ) as { fieldOverrides: Array<{ collectionGroup: string; fieldPath: string; ttl?: boolean }> };
    const ttl = config.fieldOverrides.find(
      (o) => o.collectionGroup === QUOTA_COLLECTIONS.returns && o.fieldPath === 'expiresAt',
    );
    expect(ttl?.ttl).toBe(true);
  });
});
