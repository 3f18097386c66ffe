import type { FieldIssue, SimulatePolicyResult } from '@tollgate/client';
import { fmtDuration, fmtNumber, fmtPercent, fmtTime, parseShare } from './format.ts';

/**
 * The replay view's pure part: the policy it sends to simulatePolicy (the shares typed per
 * category, plus any other documents written as JSON) and the side-by-side rows it shows.
 */

export type ReplayPolicy = {
  providers?: Array<Record<string, unknown>>;
  categories?: Array<Record<string, unknown>>;
  flags?: Record<string, unknown>;
};

/**
 * The policy of the form: a category document `{id, sharePercent}` for each share box whose
 * value differs from the configured share, merged (by id) with the categories of `json`, which
 * may also name providers and flags. An unreadable box or JSON is an issue with its field, and
 * no policy: nothing is sent.
 */
export function replayPolicyOf(
  shares: Record<string, string>,
  configured: Record<string, number>,
  json: string,
): { policy: ReplayPolicy } | { issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const byId = new Map<string, Record<string, unknown>>();
  for (const [id, text] of Object.entries(shares)) {
    if (text.trim() === '') continue;
    const share = parseShare(text);
    if (share === null) {
      issues.push({ path: `share.${id}`, message: `not a number: "${text}"` });
    } else if (share !== configured[id]) {
      byId.set(id, { id, sharePercent: share });
    }
  }
  let extra: ReplayPolicy = {};
  if (json.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (error) {
      issues.push({ path: 'documents', message: `not JSON: ${(error as Error).message}` });
    }
    if (parsed !== undefined) {
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        issues.push({
          path: 'documents',
          message: 'an object with "providers", "categories" and/or "flags"',
        });
      } else {
        extra = parsed as ReplayPolicy;
      }
    }
  }
  if (issues.length > 0) return { issues };
  if (Array.isArray(extra.categories)) {
    for (const doc of extra.categories) {
      const id = typeof doc?.id === 'string' ? doc.id : undefined;
      if (id === undefined) byId.set(`#${byId.size}`, doc);
      else byId.set(id, { ...byId.get(id), ...doc });
    }
  } else if (extra.categories !== undefined) {
    // Not a list: sent as written, so the callable names the field.
    return { policy: { ...extra } };
  }
  const policy: ReplayPolicy = { ...extra };
  if (byId.size > 0) policy.categories = [...byId.values()];
  else delete policy.categories;
  return { policy };
}

/** "current → proposed", each side formatted. */
const side = <T>(a: T | undefined, b: T | undefined, f: (x: T | undefined) => string) =>
  `${f(a)} → ${f(b)}`;
const num = (x: number | undefined) => fmtNumber(x);
const pct = (x: number | undefined) => (x === undefined ? '—' : fmtPercent(x * 100));
const wait = (x: number | undefined) => (x === undefined ? '—' : fmtDuration(x));

/** Current and proposed entries by key, in the order the keys first appear. */
function paired<T>(
  current: readonly T[],
  proposed: readonly T[],
  key: (x: T) => string,
): Array<[string, T | undefined, T | undefined]> {
  const a = new Map(current.map((x) => [key(x), x]));
  const b = new Map(proposed.map((x) => [key(x), x]));
  return [...new Set([...a.keys(), ...b.keys()])].map((k) => [k, a.get(k), b.get(k)]);
}

/** The rows of the result tables, as the CLI's `tollgate replay` prints them. */
export function replayRows(r: SimulatePolicyResult) {
  const limits = paired(r.current.limits, r.proposed.limits, (l) => `${l.provider} ${l.limit}`).map(
    ([key, a, b]) => ({
      key,
      provider: (a ?? b)!.provider,
      limit: (a ?? b)!.limit,
      utilization: side(a?.utilization, b?.utilization, pct),
      used: side(a?.used, b?.used, num),
      allowance: side(a?.allowance, b?.allowance, num),
    }),
  );
  const categories = paired(
    r.current.categories,
    r.proposed.categories,
    (c) => `${c.provider}/${c.category}`,
  ).map(([key, a, b]) => ({
    key,
    asked: num(a?.asked ?? b?.asked),
    granted: side(a?.granted, b?.granted, num),
    deferrals: side(a?.deferrals, b?.deferrals, num),
    waitP50: side(a?.waitMs.p50, b?.waitMs.p50, wait),
    waitP99: side(a?.waitMs.p99, b?.waitMs.p99, wait),
    waitingAtEnd: side(a?.waitingAtEnd, b?.waitingAtEnd, num),
  }));
  const q429 = (o: SimulatePolicyResult['current']) =>
    o.upstream429.map((q) => `${q.provider} ${q.limit}: ${fmtNumber(q.count)}`).join(', ') ||
    'none';
  const proposedCollections = new Map(r.proposed.collections.map((c) => [c.id, c]));
  const collections = r.current.collections.map((c) => {
    const p = proposedCollections.get(c.id);
    return {
      id: c.id,
      category: c.category,
      remaining: num(c.remaining),
      eta: side(c.etaMs, p?.etaMs, (x) => (x === null || x === undefined ? '—' : fmtTime(x))),
      status: `${c.status} → ${p?.status ?? '—'}`,
    };
  });
  return {
    limits,
    categories,
    upstream429: { current: q429(r.current), proposed: q429(r.proposed) },
    collections,
  };
}
