import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callableRegistry,
  hasRole,
  type ImplementedCallable,
  implementedCallables,
  ROLES,
} from '../../src/core/operations';
import { quietLogger } from '../support/quiet-logger';
import { domains } from './arbitraries';
import { type ApiFixture, apiFixture, changedPaths, quickSnapshot, request } from './support';

/**
 * Role checks for every callable: no user is unauthenticated, a lower role is
 * permission-denied, and neither writes anything; the required role and above run it.
 */

quietLogger();

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe.each(implementedCallables)('%s access', (name: ImplementedCallable) => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await apiFixture();
  });
  afterAll(() => f.close());

  const required = callableRegistry[name].role;
  const payload = domains[name].valid[0];

  it('refuses callers without a user or with a lower role, writing nothing', async () => {
    const before = await quickSnapshot(f.db);
    const users = f.users.snapshot();
    expect(await codeOf(f.callables[name].run(request(payload, null)))).toBe('unauthenticated');
    // A signed-in user without any role claim.
    expect(await codeOf(f.callables[name].run(request(payload, {})))).toBe('permission-denied');
    expect(await codeOf(f.callables[name].run(request(payload, { role: 'root' })))).toBe(
      'permission-denied',
    );
    for (const role of ROLES.filter((r) => !hasRole(r, required))) {
      expect(await codeOf(f.callables[name].run(request(payload, { role }))), role).toBe(
        'permission-denied',
      );
      expect(await codeOf(f.callables[name].run(request(payload, { [role]: true }))), role).toBe(
        'permission-denied',
      );
    }
    // Role checks come before input validation: a bad payload still gets unauthenticated.
    expect(await codeOf(f.callables[name].run(request({ bogus: 1 }, null)))).toBe(
      'unauthenticated',
    );
    expect(changedPaths(before, await quickSnapshot(f.db))).toEqual([]);
    expect(f.users.snapshot()).toBe(users);
  });

  it('runs for the required role and above, as a role string or a boolean claim', async () => {
    for (const role of ROLES.filter((r) => hasRole(r, required))) {
      expect(await codeOf(f.callables[name].run(request(payload, { role }))), role).toBe('ok');
      expect(await codeOf(f.callables[name].run(request(payload, { [role]: true }))), role).toBe(
        'ok',
      );
      // The highest of both forms wins.
      expect(
        await codeOf(f.callables[name].run(request(payload, { role: 'viewer', [role]: true }))),
      ).toBe('ok');
    }
  });
});
