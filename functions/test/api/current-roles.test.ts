import { HttpsError } from 'firebase-functions/v2/https';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { roleFromClaims } from '../../src/core/operations';
import { quietLogger } from '../support/quiet-logger';
import { type ApiFixture, apiFixture, request } from './support';

/**
 * Roles as the account holds them now, not as an ID token issued up to an hour ago says
 * (issue 13, item 2): a demoted account loses its powers at once, its sessions are revoked,
 * and two admins demoting each other at once never leave the project without an admin.
 */

quietLogger();

let f: ApiFixture;
beforeEach(async () => {
  f = await apiFixture();
  for (const [uid, role] of [
    ['admin-a', 'admin'],
    ['admin-b', 'admin'],
    ['op-x', 'operator'],
  ] as const) {
    f.users.users.set(uid, { uid, email: `${uid}@example.com`, customClaims: { role } });
  }
});
afterEach(() => f.close());

/** A call with the token the account was given before any change (its claims then). */
async function callWithToken(
  name: keyof ApiFixture['callables'],
  data: unknown,
  uid: string,
  role: string,
) {
  const fn = f.callables[name] as { run: (r: unknown) => Promise<unknown> };
  const req = request(data, { role }, uid);
  // request() records the account as its token says; the test's own accounts come first.
  return fn.run(req);
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(HttpsError);
    return (error as HttpsError).code;
  }
}

describe('roles as the account holds them now', () => {
  it('a demoted operator loses the role at once, and its sessions are revoked', async () => {
    expect(
      await code(callWithToken('setMaintenanceMode', { enabled: true }, 'op-x', 'operator')),
    ).toBe('ok');
    await callWithToken('setUserRole', { uid: 'op-x', role: 'viewer' }, 'admin-a', 'admin');
    expect(f.users.revoked).toEqual(['op-x']);
    // Its old token still says operator.
    expect(
      await code(callWithToken('setMaintenanceMode', { enabled: false }, 'op-x', 'operator')),
    ).toBe('permission-denied');
    // Reads stay open to the viewer it now is.
    expect(await code(callWithToken('getStatus', {}, 'op-x', 'operator'))).toBe('ok');
  });

  it('a demoted admin with an old token cannot promote anyone', async () => {
    await callWithToken('setUserRole', { uid: 'admin-b', role: 'operator' }, 'admin-a', 'admin');
    expect(
      await code(callWithToken('setUserRole', { uid: 'op-x', role: 'admin' }, 'admin-b', 'admin')),
    ).toBe('permission-denied');
    expect(roleFromClaims(f.users.users.get('op-x')!.customClaims)).toBe('operator');
  });

  it('two admins demoting each other at once leave one admin, whatever the interleaving', async () => {
    for (let round = 0; round < 10; round++) {
      for (const uid of ['admin-a', 'admin-b']) {
        f.users.users.get(uid)!.customClaims = { role: 'admin' };
      }
      const outcomes = await Promise.all([
        code(callWithToken('setUserRole', { uid: 'admin-b', role: 'viewer' }, 'admin-a', 'admin')),
        code(callWithToken('setUserRole', { uid: 'admin-a', role: 'viewer' }, 'admin-b', 'admin')),
      ]);
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      const admins = ['admin-a', 'admin-b', 'admin-1'].filter(
        (uid) => roleFromClaims(f.users.users.get(uid)?.customClaims) === 'admin',
      );
      // admin-1 of the fixture, and exactly one of the two.
      expect(admins).toHaveLength(2);
      // The loser retries: it is no longer an admin.
      const loser = outcomes[0] === 'ok' ? 'admin-b' : 'admin-a';
      const target = loser === 'admin-a' ? 'admin-b' : 'admin-a';
      expect(
        await code(callWithToken('setUserRole', { uid: target, role: 'viewer' }, loser, 'admin')),
      ).toBe('permission-denied');
    }
  });

  it('answers admin only for exactly "admin", as the rules do', () => {
    expect(roleFromClaims({ role: ' ADMIN ' })).toBeNull();
    expect(roleFromClaims({ role: 'Admin' })).toBeNull();
    expect(roleFromClaims({ admin: 'true' })).toBeNull();
    expect(roleFromClaims({ role: 'admin' })).toBe('admin');
  });
});
