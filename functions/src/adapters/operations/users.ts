import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import {
  ApiError,
  claimsWithRole,
  failedPrecondition,
  hasRole,
  notFound,
  type Role,
  roleFromClaims,
  roleRank,
  type SetUserRoleResult,
  type setUserRoleInput,
} from '../../core/operations';
import { logger } from '../../log';
import { writeAudit } from './audit';
import type { OperationContext, UserDirectory } from './context';

/** firebase-admin Auth error codes, as callers can act on them. */
function authError(error: unknown, uid: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'auth/user-not-found') return notFound('user', uid, `users/${uid}`);
  if (code === 'auth/invalid-uid') {
    return new ApiError('invalid-argument', `uid: ${(error as Error).message}`, {
      issues: [{ path: 'uid', message: (error as Error).message }],
    });
  }
  if (code === 'auth/claims-too-large' || code === 'auth/invalid-claims') {
    return failedPrecondition(
      `the user's custom claims cannot take a role: ${(error as Error).message}`,
    );
  }
  return error;
}

/**
 * Gives a user exactly one role (or none) through Firebase Auth custom claims; the user's
 * other claims stay. Claims live in Auth, not Firestore, so the two cannot commit together:
 * the claims are set first, then the audit entry is committed, and if that fails the previous
 * claims are restored before the error is reported, so a role change never stands without its
 * entry. Admins cannot change their own role. A demotion revokes the user's refresh tokens, so
 * the old role ends with the ID token in hand (and the callables re-check current claims).
 *
 * Role changes take turns through a short lease (`system/roleLease`), and each re-reads the
 * acting admin's current claims inside it: two admins demoting each other at once cannot both
 * succeed, so the last admin is never removed (the actor, an admin other than the target,
 * remains one).
 */
export async function setUserRole(
  ctx: OperationContext,
  input: z.output<typeof setUserRoleInput>,
): Promise<SetUserRoleResult> {
  if (input.uid === ctx.actor.uid) {
    throw failedPrecondition('admins cannot change their own role; ask another admin');
  }
  return withRoleLease(ctx, async () => {
    let actorClaims: Record<string, unknown> | undefined;
    try {
      actorClaims = (await ctx.users.getUser(ctx.actor.uid)).customClaims;
    } catch {
      actorClaims = undefined; // a deleted account has no role left
    }
    if (!hasRole(roleFromClaims(actorClaims ?? {}), 'admin')) {
      throw new ApiError(
        'permission-denied',
        'setUserRole needs the admin role, which the caller no longer has',
        {
          required: 'admin',
        },
      );
    }
    return changeRole(ctx, input);
  });
}

/** How long an instance trusts an account's role it read (a demotion reaches it within this). */
export const CURRENT_ROLE_CACHE_MS = 5_000;
const currentRoles = new Map<string, { role: Role | null; atMs: number }>();

/**
 * The account's role from its current custom claims (none for a deleted account), cached per
 * instance for a few seconds: the callables check it, since an ID token keeps its claims for
 * up to an hour.
 */
export async function currentRole(
  users: UserDirectory,
  uid: string,
  nowMs: number,
  /** The token's issue time: a new token (as after a role change) reads the account again. */
  issuedAt?: unknown,
): Promise<Role | null> {
  const key = `${uid}\u0000${String(issuedAt)}`;
  const cached = currentRoles.get(key);
  if (cached && nowMs >= cached.atMs && nowMs - cached.atMs < CURRENT_ROLE_CACHE_MS) {
    return cached.role;
  }
  let role: Role | null;
  try {
    role = roleFromClaims((await users.getUser(uid)).customClaims ?? {});
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'auth/user-not-found') throw error;
    role = null;
  }
  if (currentRoles.size > 10_000) currentRoles.clear(); // a bound, not an eviction policy
  currentRoles.set(key, { role, atMs: nowMs });
  return role;
}

/** How long a role change may hold the lease (Auth and Firestore calls of one change). */
const ROLE_LEASE_MS = 30_000;
const ROLE_LEASE_PATH = 'system/roleLease';

async function withRoleLease<T>(ctx: OperationContext, work: () => Promise<T>): Promise<T> {
  const ref = ctx.db.doc(ROLE_LEASE_PATH);
  const holder = randomUUID();
  await ctx.db.runTransaction(async (tx) => {
    const lease = await tx.get(ref);
    const untilMs = lease.get('untilMs');
    if (typeof untilMs === 'number' && untilMs > ctx.now()) {
      throw new ApiError('aborted', 'another role change is in progress; retry in a moment');
    }
    tx.set(ref, { holder, untilMs: ctx.now() + ROLE_LEASE_MS });
  });
  try {
    return await work();
  } finally {
    await ctx.db
      .runTransaction(async (tx) => {
        const lease = await tx.get(ref);
        if (lease.get('holder') === holder) tx.delete(ref);
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'role lease not released'));
  }
}

async function changeRole(
  ctx: OperationContext,
  input: z.output<typeof setUserRoleInput>,
): Promise<SetUserRoleResult> {
  const { db, users } = ctx;
  let user: Awaited<ReturnType<typeof users.getUser>>;
  try {
    user = await users.getUser(input.uid);
  } catch (error) {
    throw authError(error, input.uid);
  }
  const before = user.customClaims ?? {};
  const claims = claimsWithRole(before, input.role);
  const previousRole = roleFromClaims(before);
  const base = { uid: input.uid, role: input.role, previousRole, claims };
  if (isDeepStrictEqual(before, claims)) return { ...base, changed: false, auditId: null };

  try {
    await users.setCustomUserClaims(input.uid, claims);
  } catch (error) {
    throw authError(error, input.uid);
  } finally {
    for (const key of currentRoles.keys()) {
      if (key.startsWith(`${input.uid}\u0000`)) currentRoles.delete(key);
    }
  }
  if (roleRank(input.role) < roleRank(previousRole)) {
    // A demoted user's ID token still carries the old role for up to an hour: end the session.
    await users.revokeRefreshTokens(input.uid).catch((error: unknown) => {
      logger.error({ err: error, uid: input.uid }, 'refresh tokens not revoked after a demotion');
    });
  }
  const batch = db.batch();
  const auditId = writeAudit(db, batch, {
    who: ctx.actor,
    what: 'setUserRole',
    target: `users/${input.uid}`,
    before: { role: previousRole, email: user.email ?? null, claims: before },
    after: { role: input.role, email: user.email ?? null, claims },
    atMs: ctx.now(),
  });
  try {
    await batch.commit();
  } catch (error) {
    await users.setCustomUserClaims(input.uid, before).catch((restoreError: unknown) => {
      logger.error(
        { err: restoreError, uid: input.uid },
        'role changed but neither audited nor restored',
      );
    });
    throw error;
  }
  return { ...base, changed: true, auditId };
}
