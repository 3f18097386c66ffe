import { createHash, timingSafeEqual } from 'node:crypto';
import { defineSecret } from 'firebase-functions/params';
import { hasRole, type Role, roleFromClaims } from '../../core/operations/roles';

/**
 * Who may see more than the public status of the HTTP endpoints (`health` detail, `metrics`):
 * a scraper with the metrics token, or a signed-in user whose ID token carries a role claim.
 *
 * The metrics token is a Cloud Secret Manager secret (`firebase functions:secrets:set
 * TOLLGATE_METRICS_TOKEN`), bound to the functions that check it; the local stack writes one to
 * functions/.secret.local. Deployed, an unset or empty token refuses every scrape (fail closed);
 * only the Functions emulator serves metrics without one.
 */
export const METRICS_TOKEN = defineSecret('TOLLGATE_METRICS_TOKEN');

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The credentials of `Authorization: Bearer <credentials>`; null without the header, '' when malformed. */
export function bearerOf(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  return /^Bearer +(\S+) *$/i.exec(header)?.[1] ?? '';
}

/** Constant-time comparison (of digests, so the lengths do not show either). */
export function tokenMatches(presented: string, token: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(token));
}

/** What the metrics token means where the function runs. */
export type MetricsTokenState =
  | { kind: 'required'; token: string }
  /** The Functions emulator without a token: open, as a developer's own machine. */
  | { kind: 'open' }
  /** Deployed without a token: every scrape is refused. */
  | { kind: 'unconfigured' };

export function metricsTokenState(
  value: string | undefined,
  options: { emulated: boolean },
): MetricsTokenState {
  const token = value?.trim() ?? '';
  if (token !== '') return { kind: 'required', token };
  return options.emulated ? { kind: 'open' } : { kind: 'unconfigured' };
}

/** Whether `Authorization` carries the metrics token. Never without a configured token. */
export function authorized(header: string | undefined, token: string | undefined): boolean {
  const configured = token?.trim() ?? '';
  if (configured === '') return false;
  const presented = bearerOf(header);
  return presented !== null && presented !== '' && tokenMatches(presented, configured);
}

export type DetailAccess =
  /** No credentials at all: the public answer. */
  | { kind: 'public' }
  | { kind: 'granted'; by: 'metrics-token' }
  | { kind: 'granted'; by: 'role'; uid: string; role: Role }
  | { kind: 'refused'; status: 401 | 403; reason: string };

export interface DetailAccessOptions {
  /** The configured metrics token, if any. */
  metricsToken: string | undefined;
  /** Verifies a Firebase ID token and answers its claims (firebase-admin `verifyIdToken`). */
  verifyIdToken: (idToken: string) => Promise<{ uid: string } & Record<string, unknown>>;
  /** The least role that sees the detail. */
  role?: Role;
}

/**
 * Who asks: nobody (public), the metrics token, or a user whose verified ID token has at least
 * `role` (viewer by default). Credentials that do not verify are refused (401), never treated
 * as public, so a misconfigured scraper or client notices.
 */
export async function detailAccess(
  header: string | undefined,
  options: DetailAccessOptions,
): Promise<DetailAccess> {
  const presented = bearerOf(header);
  if (presented === null) return { kind: 'public' };
  if (presented === '') {
    return { kind: 'refused', status: 401, reason: 'Authorization must be "Bearer <token>"' };
  }
  const metricsToken = options.metricsToken?.trim() ?? '';
  if (metricsToken !== '' && tokenMatches(presented, metricsToken)) {
    return { kind: 'granted', by: 'metrics-token' };
  }
  let claims: { uid: string } & Record<string, unknown>;
  try {
    claims = await options.verifyIdToken(presented);
  } catch {
    return {
      kind: 'refused',
      status: 401,
      reason: 'neither the metrics token nor a valid ID token',
    };
  }
  const role = roleFromClaims(claims);
  const needed = options.role ?? 'viewer';
  if (!role || !hasRole(role, needed)) {
    return { kind: 'refused', status: 403, reason: `needs the ${needed} role` };
  }
  return { kind: 'granted', by: 'role', uid: claims.uid, role };
}
