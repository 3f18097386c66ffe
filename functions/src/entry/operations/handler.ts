import { type CallableRequest, HttpsError } from 'firebase-functions/v2/https';
import { currentRole, type Operation, type OperationDeps } from '../../adapters/operations';
import type { CallAdmission } from '../../adapters/quota/call-limiter';
import {
  type Actor,
  type CallableResult,
  callableRegistry,
  callCost,
  fieldIssues,
  hasRole,
  type ImplementedCallable,
  invalidArgument,
  type ParsedInput,
  roleFromClaims,
} from '../../core/operations';
import { logger } from '../../log';
import { toHttpsError } from '../errors';

export type DepsSource = OperationDeps | (() => OperationDeps);

export interface CallableHandlerOptions {
  /** The function's timeout: the operation's context carries the deadline it sets. */
  timeoutSeconds?: number;
}

/**
 * The callable's body, in order: signed in (else unauthenticated), the role the registry asks
 * (else permission-denied), the input parsed by the registry's schema (else invalid-argument
 * naming the fields; nothing has run yet), the caller's per-user call limit (else
 * resource-exhausted with the wait), then the operation, its errors mapped to callable codes.
 * A missing payload counts as `{}`.
 */
export function callableHandler<N extends ImplementedCallable>(
  name: N,
  operation: Operation<N>,
  deps: DepsSource,
  options: CallableHandlerOptions = {},
): (request: CallableRequest<unknown>) => Promise<CallableResult<N>> {
  const spec = callableRegistry[name];
  const timeoutMs =
    options.timeoutSeconds === undefined ? undefined : options.timeoutSeconds * 1000;
  return async (request) => {
    const auth = request.auth;
    if (!auth) throw new HttpsError('unauthenticated', `${name} needs a signed-in user`);
    const role = roleFromClaims(auth.token);
    if (!role || !hasRole(role, spec.role)) {
      throw new HttpsError('permission-denied', `${name} needs the ${spec.role} role`, {
        required: spec.role,
        role,
      });
    }
    const raw = request.data ?? {};
    const parsed = spec.input.safeParse(raw);
    if (!parsed.success) throw toHttpsError(invalidArgument(fieldIssues(parsed.error)));
    const resolved = typeof deps === 'function' ? deps() : deps;
    // Every user's calls draw from a bucket of their own, before anything reads or writes.
    if (resolved.callLimit) {
      let admission: CallAdmission;
      try {
        // A call reading a long range draws a token per day of it (callCost).
        admission = await resolved.callLimit.admit(auth.uid, name, callCost(name, parsed.data));
      } catch (error) {
        throw toHttpsError(error);
      }
      if (!admission.admitted) {
        const retryAfterMs = Math.max(0, admission.retryAtMs - resolved.now());
        throw new HttpsError(
          'resource-exhausted',
          `too many calls: retry ${name} in ${Math.ceil(retryAfterMs / 1000)} s`,
          { retryAfterMs, retryAt: new Date(admission.retryAtMs).toISOString() },
        );
      }
    }
    // A token keeps its claims for up to an hour: changes are checked against the account now.
    if (spec.role !== 'viewer') {
      let current: Awaited<ReturnType<typeof currentRole>>;
      try {
        current = await currentRole(resolved.users, auth.uid, resolved.now(), auth.token.iat);
      } catch (error) {
        throw toHttpsError(error);
      }
      if (!hasRole(current, spec.role)) {
        throw new HttpsError(
          'permission-denied',
          `${name} needs the ${spec.role} role, which the account no longer has`,
          { required: spec.role, role: current },
        );
      }
    }
    const email = auth.token.email;
    const actor: Actor = { uid: auth.uid, email: typeof email === 'string' ? email : null, role };
    try {
      const context = {
        ...resolved,
        actor,
        ...(timeoutMs === undefined ? {} : { deadlineMs: resolved.now() + timeoutMs }),
      };
      const result = await operation(context, parsed.data as ParsedInput<N>, raw);
      if (spec.mutates) {
        logger.info({ callable: name, uid: actor.uid, role }, 'operator call');
      }
      return result;
    } catch (error) {
      throw toHttpsError(error);
    }
  };
}
