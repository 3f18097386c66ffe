import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import {
  ApiError,
  claimsWithRole,
  failedPrecondition,
  notFound,
  roleFromClaims,
  type SetUserRoleResult,
  type setUserRoleInput,
} from '../../core/api';
import { logger } from '../../log';
import { writeAudit } from './audit';
import type { OperationContext } from './context';

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
 * entry. Admins cannot change their own role (no one locks the last admin out by accident).
 * The new role reaches the user's ID token at its next refresh, within the hour.
 */
export async function setUserRole(
  ctx: OperationContext,
  input: z.output<typeof setUserRoleInput>,
): Promise<SetUserRoleResult> {
  const { db, users } = ctx;
  if (input.uid === ctx.actor.uid) {
    throw failedPrecondition('admins cannot change their own role; ask another admin');
  }
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
