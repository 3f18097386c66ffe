import { readFile } from 'node:fs/promises';
import type { SimulatePolicyResult } from '../../functions/src/core/operations/index.ts';
import { UsageError } from './errors.ts';
import { duration, percent, table, time } from './output.ts';

/**
 * `tollgate replay`: times, the policy file and the side-by-side rendering of simulatePolicy.
 */

const UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time on the command line: `now`, relative to now (`-6h`, `-30m`, `-1d`), an ISO 8601
 * instant (`2026-12-05T08:00:00Z`) or epoch milliseconds.
 */
export function parseReplayTime(text: string, nowMs: number, flag: string): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const relative = /^-(\d+(?:\.\d+)?)([smhd])$/.exec(t);
  if (relative) return Math.round(nowMs - Number(relative[1]) * UNITS_MS[relative[2]!]!);
  if (/^\d{10,}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(t)) {
    throw new UsageError(
      `${flag} takes now, -<n>[smhd], an ISO 8601 time or epoch ms, not "${text}"`,
    );
  }
  return ms;
}

/** The policy file: JSON with `providers`, `categories` and/or `flags` (the documents). */
export async function readPolicyFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --policy ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--policy ${path} is not JSON: ${(error as Error).message}`);
  }
}

/** A range this long or longer shows a progress bar (on a terminal, without --json). */
export const PROGRESS_FROM_MS = 3_600_000;

const pct = (x: number | undefined) => (x === undefined ? '-' : percent(x * 100));
const side = <T>(a: T | undefined, b: T | undefined, f: (x: T | undefined) => string) =>
  `${f(a)} -> ${f(b)}`;
const num = (x: number | undefined) => (x === undefined ? '-' : String(Math.round(x)));
const ms = (x: number | undefined) => (x === undefined ? '-' : duration(x));

export function renderReplay(r: SimulatePolicyResult): string {
  const out: string[] = [];
  out.push(
    `Replayed ${time(r.fromMs)} .. ${time(r.toMs)}: ${r.documents} demand documents, ` +
      `${r.demand.asked} asks (${r.demand.firstAsks} first asks), ${r.instances} simulated ` +
      `instances, seed ${r.seed}; ${Math.round(r.speedup)}x real time.`,
  );
  const changed = [
    ...r.changed.providers.map((p) => `providers/${p}`),
    ...r.changed.categories.map((c) => `categories/${c}`),
    ...r.changed.flags.map((f) => `flags.${f}`),
  ];
  out.push(`Policy changes: ${changed.length > 0 ? changed.join(', ') : 'none'}`);
  out.push('', 'Limits (utilization: current -> proposed)');
  const limitKey = (l: { provider: string; limit: string }) => `${l.provider}\u0000${l.limit}`;
  const proposedLimits = new Map(r.proposed.limits.map((l) => [limitKey(l), l]));
  const limitKeys = new Set([...r.current.limits, ...r.proposed.limits].map(limitKey));
  const currentLimits = new Map(r.current.limits.map((l) => [limitKey(l), l]));
  out.push(
    table(
      ['provider', 'limit', 'utilization', 'used', 'allowance'],
      [...limitKeys].map((k) => {
        const a = currentLimits.get(k);
        const b = proposedLimits.get(k);
        const [provider, limit] = k.split('\u0000');
        return [
          provider,
          limit,
          side(a?.utilization, b?.utilization, pct),
          side(a?.used, b?.used, num),
          side(a?.allowance, b?.allowance, num),
        ];
      }),
    ),
  );
  out.push('', 'Categories (current -> proposed)');
  const catKey = (c: { provider: string; category: string }) => `${c.provider}/${c.category}`;
  const proposedCats = new Map(r.proposed.categories.map((c) => [catKey(c), c]));
  const currentCats = new Map(r.current.categories.map((c) => [catKey(c), c]));
  const cats = new Set([...currentCats.keys(), ...proposedCats.keys()]);
  out.push(
    table(
      ['category', 'asked', 'granted', 'deferrals', 'wait p50', 'wait p99', 'waiting at end'],
      [...cats].map((k) => {
        const a = currentCats.get(k);
        const b = proposedCats.get(k);
        return [
          k,
          num(a?.asked ?? b?.asked),
          side(a?.granted, b?.granted, num),
          side(a?.deferrals, b?.deferrals, num),
          side(a?.waitMs.p50, b?.waitMs.p50, ms),
          side(a?.waitMs.p99, b?.waitMs.p99, ms),
          side(a?.waitingAtEnd, b?.waitingAtEnd, num),
        ];
      }),
    ),
  );
  const q429 = (o: SimulatePolicyResult['current']) =>
    o.upstream429.map((q) => `${q.provider} ${q.limit}: ${q.count}`).join(', ') || 'none';
  out.push('', `Predicted upstream 429s: current ${q429(r.current)}; proposed ${q429(r.proposed)}`);
  if (r.current.collections.length > 0) {
    out.push('', 'Collections (ETA and deadline: current -> proposed)');
    const proposed = new Map(r.proposed.collections.map((c) => [c.id, c]));
    out.push(
      table(
        ['collection', 'category', 'remaining', 'ETA', 'status'],
        r.current.collections.map((c) => {
          const p = proposed.get(c.id);
          return [
            c.id,
            c.category,
            num(c.remaining),
            side(c.etaMs, p?.etaMs, (x) => (x === null || x === undefined ? '-' : time(x))),
            `${c.status} -> ${p?.status ?? '-'}`,
          ];
        }),
      ),
    );
  }
  return out.join('\n');
}
