import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/adapters/observability/health';
import { detailAccess } from '../../src/adapters/observability/http-access';
import { recordUsage } from '../../src/adapters/storage/usage-stats';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import { type HealthHandlerDeps, healthHandler } from '../../src/entry/observability/health';
import { metricsHandler } from '../../src/entry/observability/metrics';
import { FakeQueueAdmin } from '../api/support';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';
import { type ReadRecorder, recordReads } from '../support/reads';
import { ManualTimers } from '../write-buffer/support';

/**
 * The HTTP endpoints as anyone on the internet reaches them: `health` answers the status only,
 * from a check shared by every request for 20 s (Firestore is not read per request); the
 * report needs the metrics token or a role; `metrics` never serves without its token when
 * deployed.
 */

quietLogger();

const NOW = Date.UTC(2026, 0, 1, 12, 0, 30);
const TOKEN = 'metrics-s3cret-token';

class FakeResponse {
  statusCode = 0;
  headers: Record<string, string> = {};
  body: unknown;
  status(code: number) {
    this.statusCode = code;
    return this;
  }
  set(field: string, value: string) {
    this.headers[field.toLowerCase()] = value;
    return this;
  }
  json(body: unknown) {
    this.body = body;
    return this;
  }
  send(body: string) {
    this.body = body;
    return this;
  }
}

function request(authorization?: string) {
  return {
    get: (name: string) => (name.toLowerCase() === 'authorization' ? authorization : undefined),
  };
}

/** ID tokens as the fake Auth knows them: the claims each verifies to. */
const ID_TOKENS: Record<string, { uid: string } & Record<string, unknown>> = {
  'viewer-token': { uid: 'v1', role: 'viewer' },
  'admin-token': { uid: 'a1', admin: true },
  'no-role-token': { uid: 'n1', team: 'ops' },
};
async function verifyIdToken(idToken: string) {
  const claims = ID_TOKENS[idToken];
  if (!claims) throw Object.assign(new Error('invalid'), { code: 'auth/argument-error' });
  return claims;
}

let db: Firestore;
let close: () => Promise<void>;
let reads: ReadRecorder;
const clock = { now: NOW };
beforeEach(async () => {
  ({ db, close } = testFirestore());
  clock.now = NOW;
  await db.doc('system/heartbeat').set({ at: Timestamp.fromMillis(NOW - 60_000) });
  await db.doc('cooldowns/keepa').set({
    until: Timestamp.fromMillis(NOW + 3_600_000),
    startedAt: Timestamp.fromMillis(NOW),
    hits: 2,
    lastOperation: 'product',
  });
  const buffer = new WriteBuffer(db, { timers: new ManualTimers() });
  const written = recordUsage(buffer, {
    provider: 'keepa',
    category: 'deals',
    at: NOW,
    granted: 10,
    quota429: 5,
  });
  await buffer.flush();
  await written;
  reads = recordReads();
});
afterEach(async () => {
  reads.restore();
  await close();
});

function handler(overrides: Partial<HealthHandlerDeps> = {}) {
  return healthHandler({
    check: () =>
      checkHealth(db, {
        probePath: 'system/heartbeat',
        now: () => clock.now,
        taskQueues: { admin: new FakeQueueAdmin(['keepaWork']), queues: ['keepaWork'] },
      }),
    now: () => clock.now,
    metricsToken: () => TOKEN,
    verifyIdToken,
    version: () => '1.2.3',
    ...overrides,
  });
}

async function get(h: ReturnType<typeof healthHandler>, authorization?: string) {
  const res = new FakeResponse();
  await h(request(authorization), res);
  return res;
}

describe('health, public', () => {
  it('answers the status only: no provider, queue, error or threshold', async () => {
    const h = handler();
    const res = await get(h);
    // The report has keepa's cooldown and quota errors, its queue and the thresholds.
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const degraded = handler({
      check: async () => ({
        ...(await h.cache.current()),
        httpStatus: 503,
        report: {
          ...(await h.cache.current()).report,
          status: 'degraded',
          reasons: ['keepa: 50% of 10 calls hit a quota error'],
        },
      }),
    });
    const down = await get(degraded);
    expect(down.statusCode).toBe(503);
    expect(down.body).toEqual({ status: 'degraded' });
  });

  it('reads Firestore once per 20 s however many requests arrive, concurrent or not', async () => {
    const h = handler();
    const first = await Promise.all(Array.from({ length: 50 }, () => get(h)));
    expect(h.cache.checks).toBe(1);
    const oneCheck = reads.documents;
    expect(oneCheck).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) {
      clock.now += 100; // 10 s of requests
      await get(h);
    }
    clock.now = NOW + 19_999;
    await get(h);
    expect(h.cache.checks).toBe(1);
    expect(reads.documents).toBe(oneCheck);
    expect(new Set(first.map((r) => JSON.stringify(r.body))).size).toBe(1);
    clock.now = NOW + 20_000;
    await Promise.all(Array.from({ length: 20 }, () => get(h)));
    expect(h.cache.checks).toBe(2);
    expect(reads.documents).toBe(2 * oneCheck);
  });

  it('answers 503 degraded when the check itself throws, and keeps that answer too', async () => {
    let checks = 0;
    const h = handler({
      check: async () => {
        checks++;
        throw new Error('boom');
      },
    });
    const res = await get(h);
    expect(res.statusCode).toBe(503);
    expect(res.body).toEqual({ status: 'degraded' });
    await get(h);
    expect(checks).toBe(1);
  });
});

describe('health, detail', () => {
  it('with the metrics token: the whole report, from a check run for the request', async () => {
    const h = handler();
    await get(h); // a public answer is cached
    const res = await get(h, `Bearer ${TOKEN}`);
    expect(h.cache.checks).toBe(2);
    expect(res.body).toMatchObject({
      version: '1.2.3',
      firestore: { ok: true },
      scheduler: { lastHeartbeatAt: new Date(NOW - 60_000).toISOString() },
      cooldowns: [expect.objectContaining({ provider: 'keepa', lastOperation: 'product' })],
      upstreams: [expect.objectContaining({ provider: 'keepa', quotaErrors: 5 })],
      taskQueues: [expect.objectContaining({ queue: 'keepaWork' })],
      thresholds: expect.objectContaining({ maxErrorRate: 0.1 }),
    });
  });

  it('with an ID token of a viewer or above; a user without a role is refused', async () => {
    const h = handler();
    expect((await get(h, 'Bearer viewer-token')).body).toMatchObject({ cooldowns: [{}] });
    expect((await get(h, 'Bearer admin-token')).body).toMatchObject({ taskQueues: [{}] });
    const noRole = await get(h, 'Bearer no-role-token');
    expect(noRole.statusCode).toBe(403);
    expect(noRole.body).toEqual({ error: 'needs the viewer role' });
  });

  it('refuses other credentials before reading anything', async () => {
    const h = handler();
    for (const authorization of ['Bearer wrong', 'Basic dXNlcjpwYXNz', 'Bearer', TOKEN]) {
      const res = await get(h, authorization);
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.stringify(res.body)).not.toMatch(/keepa/);
    }
    expect(h.cache.checks).toBe(0);
    expect(reads.documents).toBe(0);
  });

  it('never takes an empty or unset metrics token for a match', async () => {
    for (const metricsToken of [undefined, '', '  ']) {
      const h = handler({ metricsToken: () => metricsToken });
      expect((await get(h, 'Bearer ')).statusCode).toBe(401);
      expect((await get(h, 'Bearer x')).statusCode).toBe(401);
    }
    expect(
      await detailAccess('Bearer viewer-token', { metricsToken: undefined, verifyIdToken }),
    ).toEqual({ kind: 'granted', by: 'role', uid: 'v1', role: 'viewer' });
  });
});

describe('metrics authorization', () => {
  const render = async () => ({ contentType: 'text/plain', body: 'tollgate_up 1\n' });
  async function scrape(
    h: ReturnType<typeof metricsHandler>,
    authorization?: string,
  ): Promise<FakeResponse> {
    const res = new FakeResponse();
    await h(request(authorization), res);
    return res;
  }

  it('deployed without a token, refuses every scrape (fail closed)', async () => {
    let rendered = 0;
    for (const token of [undefined, '', ' ']) {
      const h = metricsHandler({
        token: () => token,
        emulated: () => false,
        render: async () => {
          rendered++;
          return render();
        },
      });
      for (const authorization of [undefined, 'Bearer ', 'Bearer anything', `Bearer ${token}`]) {
        const res = await scrape(h, authorization);
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    }
    expect(rendered).toBe(0);
  });

  it('with a token, wants exactly it', async () => {
    const h = metricsHandler({ token: () => TOKEN, emulated: () => false, render });
    expect((await scrape(h)).statusCode).toBe(401);
    expect((await scrape(h, 'Bearer wrong')).statusCode).toBe(401);
    expect((await scrape(h, TOKEN)).statusCode).toBe(401);
    const ok = await scrape(h, `Bearer ${TOKEN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('tollgate_up 1\n');
    expect(ok.headers['content-type']).toBe('text/plain');
  });

  it('in the Functions emulator without a token, serves (a developer machine)', async () => {
    const h = metricsHandler({ token: () => undefined, emulated: () => true, render });
    expect((await scrape(h)).statusCode).toBe(200);
    const guarded = metricsHandler({ token: () => TOKEN, emulated: () => true, render });
    expect((await scrape(guarded)).statusCode).toBe(401);
  });
});
