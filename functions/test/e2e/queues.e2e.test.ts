import { describe, expect, it } from 'vitest';
import { signInWithRole } from '../../../devstack/src/auth.ts';
import { enqueueTask } from '../../src/adapters/queues/task-queue';
import { connectToStack, stack } from './support';

/**
 * The provider queues administered from the functions, on the stack's Cloud Tasks: maintenance
 * mode pauses them (nothing is dispatched), an admin purges one with a count, health reports
 * each queue's depth. The functions reach Cloud Tasks the way they do deployed, through
 * @google-cloud/tasks; only the endpoint differs.
 */

const base = `${stack.urls.functions}/${stack.projectId}/${stack.region}`;
const { db } = connectToStack();
const PROVIDER_QUEUES = ['keepaWork', 'smartproxyWork', 'keepaIngest'];

const tokens = new Map<string, string>();
async function call(name: string, data: unknown, role: 'operator' | 'admin') {
  if (!tokens.has(role)) {
    const { idToken } = await signInWithRole(
      stack.urls.auth as string,
      stack.projectId,
      `e2e-queues-${role}@tollgate.local`,
      role,
    );
    tokens.set(role, idToken);
  }
  const response = await fetch(`${base}/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(role)}` },
    body: JSON.stringify({ data }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body checked field by field below
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

// biome-ignore lint/suspicious/noExplicitAny: the stand-in's own stats, checked field by field
async function queueStats(): Promise<Record<string, any>> {
  return (await fetch(`${stack.urls.tasks}/queueStats`)).json();
}

describe('provider queues, end to end', () => {
  it('maintenance pauses them, a purge drops what waits, health shows their depth', async () => {
    const on = await call('setMaintenanceMode', { enabled: true, reason: 'e2e' }, 'operator');
    expect(on.status).toBe(200);
    expect(on.body.result.queues).toEqual(
      PROVIDER_QUEUES.map((queue) => ({ queue, state: 'PAUSED' })),
    );
    try {
      for (const queue of PROVIDER_QUEUES) expect((await queueStats())[queue].state).toBe('PAUSED');
      const before = (await queueStats()).keepaWork;
      for (const key of ['a', 'b', 'c']) {
        await enqueueTask(
          'keepaWork',
          {
            collection: 'e2e-queues',
            kind: 'noop',
            key,
            provider: 'keepa',
            category: 'keepa-deals',
          },
          { id: `e2e-queues-${key}-${Date.now()}` },
        );
      }
      await new Promise((r) => setTimeout(r, 500));
      const paused = (await queueStats()).keepaWork;
      expect(paused.dispatches).toBe(before.dispatches);
      expect(paused.tasksCount).toBe(before.tasksCount + 3);

      const health = await (
        await fetch(`${base}/health`, {
          headers: { authorization: `Bearer ${stack.metricsToken}` },
        })
      ).json();
      const keepaWork = health.taskQueues.find((q: { queue: string }) => q.queue === 'keepaWork');
      expect(keepaWork).toMatchObject({ state: 'PAUSED', tasks: paused.tasksCount });
      expect(health.notes.join('\n')).not.toContain('paused outside maintenance');

      expect(
        (await call('purgeProviderQueues', { provider: 'keepa', reason: 'e2e' }, 'operator'))
          .status,
      ).toBe(403);
      const purged = await call(
        'purgeProviderQueues',
        { provider: 'keepa', reason: 'e2e' },
        'admin',
      );
      expect(purged.status).toBe(200);
      expect(purged.body.result.queues[0]).toEqual({
        queue: 'keepaWork',
        dropped: paused.tasksCount,
      });
      expect((await queueStats()).keepaWork.tasksCount).toBe(0);
      const audit = await db.doc(`auditLog/${purged.body.result.auditId}`).get();
      expect(audit.get('what')).toBe('purgeProviderQueues');
      expect(audit.get('reason')).toBe('e2e');
    } finally {
      const off = await call('setMaintenanceMode', { enabled: false }, 'operator');
      expect(off.body.result.queues).toEqual(
        PROVIDER_QUEUES.map((queue) => ({ queue, state: 'RUNNING' })),
      );
    }
    for (const queue of PROVIDER_QUEUES) expect((await queueStats())[queue].state).toBe('RUNNING');
  });
});
