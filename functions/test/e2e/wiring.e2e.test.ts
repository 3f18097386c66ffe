import { randomUUID } from 'node:crypto';
import { getFunctions } from 'firebase-admin/functions';
import { describe, expect, it } from 'vitest';
import { signInWithRole } from '../../../devstack/src/auth.ts';
import { enqueueTask } from '../../src/adapters/queues/task-queue';
import { connectToStack, stack } from './support';

const base = `${stack.urls.functions}/${stack.projectId}/${stack.region}`;
const { app, db } = connectToStack();

async function eventually<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 240; i++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`never saw ${what}`);
}

let viewerToken: string | undefined;
async function callable(name: string, data: unknown, token?: string | null) {
  viewerToken ??= (
    await signInWithRole(
      stack.urls.auth as string,
      stack.projectId,
      'e2e-viewer@tollgate.local',
      'viewer',
    )
  ).idToken;
  const bearer = token === undefined ? viewerToken : token;
  const response = await fetch(`${base}/${name}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify({ data }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body checked field by field below
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('the local stack, end to end', () => {
  it('serves health: the status to anyone, the report with the metrics token or a role', async () => {
    const anyone = await fetch(`${base}/health`);
    expect(anyone.status).toBe(200);
    expect(await anyone.json()).toEqual({ status: 'ok' });

    const scraper = await fetch(`${base}/health`, {
      headers: { authorization: `Bearer ${stack.metricsToken}` },
    });
    expect(scraper.status).toBe(200);
    const report = await scraper.json();
    expect(report).toMatchObject({ status: 'ok', firestore: { ok: true } });
    expect(report.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.taskQueues.length).toBeGreaterThan(0);

    // A viewer's ID token, verified by the Admin SDK against the Auth emulator.
    const { idToken } = await signInWithRole(
      stack.urls.auth as string,
      stack.projectId,
      'e2e-health-viewer@tollgate.local',
      'viewer',
    );
    const viewer = await fetch(`${base}/health`, {
      headers: { authorization: `Bearer ${idToken}` },
    });
    expect(viewer.status).toBe(200);
    expect(await viewer.json()).toMatchObject({ firestore: { ok: true }, thresholds: {} });
    const { idToken: roleless } = await signInWithRole(
      stack.urls.auth as string,
      stack.projectId,
      'e2e-health-nobody@tollgate.local',
      null,
    );
    const nobody = await fetch(`${base}/health`, {
      headers: { authorization: `Bearer ${roleless}` },
    });
    expect(nobody.status).toBe(403);
    const forged = await fetch(`${base}/health`, { headers: { authorization: 'Bearer forged' } });
    expect(forged.status).toBe(401);
  });

  it('serves metrics only with the token the stack wrote to functions/.secret.local', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } });
    expect(wrong.status).toBe(401);
    const scrape = await fetch(`${base}/metrics`, {
      headers: { authorization: `Bearer ${stack.metricsToken}` },
    });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('tollgate_task_queue_tasks');
  });

  it('serves the hosting page and rewrites /api/health to the function', async () => {
    expect((await fetch(`${stack.urls.hosting}/`)).status).toBe(200);
    const health = await fetch(`${stack.urls.hosting}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('answers getStatus over HTTP as a client would, from the seeded configuration', async () => {
    const { status, body } = await callable('getStatus', {});
    expect(status).toBe(200);
    expect(body.result.projectId).toBe(stack.projectId);
    expect(body.result.providers.map((p: { id: string }) => p.id)).toEqual(
      expect.arrayContaining(['keepa', 'spapi', 'smartproxy']),
    );
  });

  it('refuses getStatus without a signed-in user, and a change from a viewer', async () => {
    const anonymous = await callable('getStatus', {}, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.status).toBe('UNAUTHENTICATED');
    const denied = await callable('clearCooldown', { provider: 'keepa' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.status).toBe('PERMISSION_DENIED');
  });

  it('maps an invalid configuration document to failed-precondition naming the field', async () => {
    const ref = db.doc('providers/broken');
    await ref.set({ limits: [{ kind: 'tokenBucket', capacity: -1, refillPerSecond: 1 }] });
    try {
      const { status, body } = await callable('getStatus', {});
      expect(status).toBe(400);
      expect(body.error.status).toBe('FAILED_PRECONDITION');
      expect(body.error.message).toContain('providers/broken');
      expect(body.error.message).toContain('limits[0].capacity');
    } finally {
      await ref.delete();
    }
    expect((await callable('getStatus', {})).status).toBe(200);
  });

  it('runs a task enqueued through firebase-admin', async () => {
    const probeId = `probe-${randomUUID()}`;
    await getFunctions(app)
      .taskQueue(`locations/${stack.region}/functions/diagnostics`)
      .enqueue({ payload: { probeId } }, { id: probeId });
    const ran = await eventually(
      async () => (await db.doc(`diagnostics/${probeId}`).get()).data(),
      'the diagnostics task run',
    );
    expect(ran.runs).toBe(1);
  });

  it('never runs a scheduled task before its schedule time', async () => {
    const probeId = `scheduled-${randomUUID()}`;
    const scheduleTime = new Date(Date.now() + 4_000);
    expect(await enqueueTask('diagnostics', { probeId }, { id: probeId, scheduleTime })).toBe(
      'enqueued',
    );
    expect(await enqueueTask('diagnostics', { probeId }, { id: probeId, scheduleTime })).toBe(
      'duplicate',
    );
    const ran = await eventually(
      async () => (await db.doc(`diagnostics/${probeId}`).get()).data(),
      'the scheduled diagnostics task run',
    );
    expect(ran.ranAt.toMillis()).toBeGreaterThanOrEqual(scheduleTime.getTime());
  });
});
