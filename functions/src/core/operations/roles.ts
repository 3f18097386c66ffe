import { z } from 'zod';

/**
 * Who may call what. Roles are ordered: a higher role may do everything a lower one may.
 * Viewers read; operators change allocations, flags, cooldowns, maintenance, collections and
 * start validation runs and flushes; admins import backups and manage roles.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES);

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** 0 for no role, so any role outranks none. */
export function roleRank(role: Role | null | undefined): number {
  return role ? RANK[role] : 0;
}

export function hasRole(actual: Role | null | undefined, required: Role): boolean {
  return roleRank(actual) >= roleRank(required);
}

/** The claim names this module owns: `role` (one string) and one boolean claim per role. */
export const ROLE_CLAIMS = ['role', ...ROLES] as const;

/**
 * The caller's role from the ID token's custom claims: `role: "operator"` (one string, exactly
 * one of the role names) or boolean claims `viewer` / `operator` / `admin: true`. Both forms may
 * be present; the highest role wins. Anything else means no role: firestore.rules compares the
 * claim with `==`, so `" ADMIN "` must not be an admin here while the rules see no role at all.
 */
export function roleFromClaims(claims: unknown): Role | null {
  if (claims === null || typeof claims !== 'object') return null;
  const token = claims as Record<string, unknown>;
  let best: Role | null = null;
  const consider = (role: Role) => {
    if (roleRank(role) > roleRank(best)) best = role;
  };
  const named = Object.hasOwn(token, 'role') ? token.role : undefined;
  if (isRole(named)) consider(named);
  for (const role of ROLES) {
    if (Object.hasOwn(token, role) && token[role] === true) consider(role);
  }
  return best;
}

/**
 * The custom claims that give a user exactly `role` (none when null): every other claim is
 * kept, the role claims are replaced by one `role` string, so an older boolean claim cannot
 * keep a demoted user at the higher role.
 */
export function claimsWithRole(
  existing: Readonly<Record<string, unknown>> | null | undefined,
  role: Role | null,
): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(existing ?? {})) {
    if (!(ROLE_CLAIMS as readonly string[]).includes(key)) claims[key] = value;
  }
  if (role) claims.role = role;
  return claims;
}
