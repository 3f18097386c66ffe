import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { operations } from '../../src/adapters/operations';
import {
  callableNames,
  callableRegistry,
  claimsWithRole,
  hasRole,
  implementedCallables,
  roleFromClaims,
} from '../../src/core/operations';

describe('roles from custom claims', () => {
  it('reads one role string, exactly as firestore.rules compares it', () => {
    expect(roleFromClaims({ role: 'viewer' })).toBe('viewer');
    expect(roleFromClaims({ role: 'admin' })).toBe('admin');
    // The rules test `role == 'admin'`: any other spelling is no role there, so none here.
    for (const role of [' ADMIN ', 'Admin', 'admin ', ' Operator ', 'VIEWER', '']) {
      expect(roleFromClaims({ role }), role).toBeNull();
    }
  });

  it('agrees with firestore.rules for every role claim', () => {
    // isViewer() and isAdmin() of firestore.rules, over the same claims.
    const rules = (claims: Record<string, unknown>) => {
      const role = Object.hasOwn(claims, 'role') ? claims.role : '';
      const flag = (name: string) => Object.hasOwn(claims, name) && claims[name] === true;
      const admin = role === 'admin' || flag('admin');
      const viewer =
        (typeof role === 'string' && ['viewer', 'operator', 'admin'].includes(role)) ||
        flag('viewer') ||
        flag('operator') ||
        flag('admin');
      return { admin, viewer };
    };
    const values = ['viewer', 'operator', 'admin', ' ADMIN ', 'Admin', true, 'true', 1, null];
    for (const role of values) {
      for (const flag of ['viewer', 'operator', 'admin']) {
        for (const flagValue of [undefined, true, 'true']) {
          const claims: Record<string, unknown> = { role };
          if (flagValue !== undefined) claims[flag] = flagValue;
          const ours = roleFromClaims(claims);
          const theirs = rules(claims);
          expect(ours === 'admin', JSON.stringify(claims)).toBe(theirs.admin);
          expect(ours !== null, JSON.stringify(claims)).toBe(theirs.viewer);
        }
      }
    }
  });

  it('reads boolean claims, and only true counts', () => {
    expect(roleFromClaims({ viewer: true })).toBe('viewer');
    expect(roleFromClaims({ operator: true })).toBe('operator');
    expect(roleFromClaims({ admin: 'true' })).toBeNull();
    expect(roleFromClaims({ admin: 1 })).toBeNull();
  });

  it('takes the highest of both forms', () => {
    expect(roleFromClaims({ role: 'viewer', admin: true })).toBe('admin');
    expect(roleFromClaims({ role: 'admin', viewer: true })).toBe('admin');
    expect(roleFromClaims({ viewer: true, operator: true })).toBe('operator');
    expect(roleFromClaims({ role: 'operator', viewer: true })).toBe('operator');
  });

  it('gives no role for anything else', () => {
    for (const claims of [
      undefined,
      null,
      'admin',
      {},
      { role: 'root' },
      { role: ['admin'] },
      { role: 'toString' },
      { superuser: true },
      Object.create({ admin: true }),
    ]) {
      expect(roleFromClaims(claims)).toBeNull();
    }
  });

  it('orders viewer < operator < admin', () => {
    expect(hasRole('admin', 'operator')).toBe(true);
    expect(hasRole('operator', 'operator')).toBe(true);
    expect(hasRole('viewer', 'operator')).toBe(false);
    expect(hasRole(null, 'viewer')).toBe(false);
  });

  it('replaces every role claim by one role string and keeps the other claims', () => {
    expect(claimsWithRole({ admin: true, viewer: true, team: 'ops' }, 'viewer')).toEqual({
      team: 'ops',
      role: 'viewer',
    });
    expect(claimsWithRole({ role: 'admin', team: 'ops' }, null)).toEqual({ team: 'ops' });
    expect(claimsWithRole(undefined, 'operator')).toEqual({ role: 'operator' });
  });
});

describe('the callable registry', () => {
  it('has an operation for every implemented callable and none for the slots', () => {
    expect(Object.keys(operations).sort()).toEqual([...implementedCallables].sort());
    expect(callableNames.filter((n) => callableRegistry[n].input === null)).toEqual([]);
  });

  it('asks viewers for reads, operators for changes and admins for roles, imports and purges', () => {
    // The audit log holds every change's before and after (firestore.rules: admins only).
    const adminOnly = ['setUserRole', 'importBackup', 'purgeProviderQueues', 'listAuditLog'];
    for (const name of callableNames) {
      const { role, mutates } = callableRegistry[name];
      if (adminOnly.includes(name)) expect(role).toBe('admin');
      else if (mutates) expect(role).toBe('operator');
      // Reads an operator starts: exports (data leaves the project) and replays (minutes of CPU).
      else if (name === 'exportBackup' || name === 'simulatePolicy') expect(role).toBe('operator');
      else expect(role).toBe('viewer');
    }
  });

  it('is fuzzed callable by callable (fuzz-reads and fuzz-changes cover every one)', () => {
    const fuzzed = [
      readFileSync(join(__dirname, 'fuzz-reads.test.ts'), 'utf8'),
      readFileSync(join(__dirname, 'fuzz-changes.test.ts'), 'utf8'),
    ].join('\n');
    for (const name of implementedCallables) expect(fuzzed, name).toContain(`'${name}'`);
  });

  it('rejects unknown keys in every input', () => {
    for (const name of implementedCallables) {
      const result = callableRegistry[name].input.safeParse({ unexpected: 1 });
      expect(result.success, name).toBe(false);
    }
  });
});
