import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { providerSchema } from '../../core/config';
import {
  fieldIssues,
  invalidArgument,
  type SetProviderLimitsResult,
  type setProviderLimitsInput,
} from '../../core/operations';
import { readWorkSources, refuseNewShareProblems } from '../pipeline/work-shares';
import { readAllocation } from '../quota/allocations';
import { publishAfterChange } from '../quota/republish';
import { writeAudit } from './audit';
import type { OperationContext } from './context';
import {
  checkProviderShares,
  parseProvider,
  providerPath,
  readProviderCategories,
} from './documents';
import { syncQueuesAfterChange } from './queues';

type Raw = Record<string, unknown>;

/**
 * Changes a provider's limits, cooldowns, URLs and settings (creates it when absent: it needs
 * limits). Given fields replace the stored ones; the merged document is validated as the
 * configuration is (invalid-argument naming the field: a limit shape the engine cannot serve, a
 * URL that is not https, a reserved id), then against its categories: shares within 100% and
 * every category still able to carry its work at its share (failed-precondition naming it).
 * One transaction with the audit entry; then the allocation is republished, so new limits reach
 * every instance through the same lead as a share change, and the provider's queues follow.
 */
export async function setProviderLimits(
  ctx: OperationContext,
  input: z.output<typeof setProviderLimitsInput>,
): Promise<SetProviderLimitsResult> {
  const { db } = ctx;
  const { provider: id, ...fields } = input;
  const ref = db.doc(providerPath(id));
  const result = await db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const stored: Raw = snapshot.data() ?? {};
    const next: Raw = { ...stored };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      if (value === null) delete next[key];
      else next[key] = value;
    }
    if (!snapshot.exists && next.limits === undefined) {
      throw invalidArgument([{ path: 'limits', message: 'a new provider needs its limits' }]);
    }
    const parsed = providerSchema.safeParse({ ...next, id });
    if (!parsed.success) {
      // The document's id is the input's `provider`.
      const issues = fieldIssues(parsed.error).map((i) =>
        i.path === 'id' ? { ...i, path: 'provider' } : i,
      );
      throw invalidArgument(issues);
    }
    const changed = !snapshot.exists || !isDeepStrictEqual(stored, next);
    if (!changed) return { provider: parsed.data, created: false, changed, auditId: null };

    const categories = await readProviderCategories(db, tx, id);
    checkProviderShares(parsed.data, categories);
    const sources = await readWorkSources(db, { tx, provider: id });
    // A stored provider the configuration refused counts as none: fixing it is allowed.
    const before = snapshot.exists ? safely(() => parseProvider(snapshot)) : undefined;
    refuseNewShareProblems(
      { providers: before ? [before] : [], categories, ...sources },
      { providers: [parsed.data], categories, ...sources },
      { laterPhases: true },
    );
    tx.set(ref, next);
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'setProviderLimits',
      target: ref.path,
      before: snapshot.exists ? stored : null,
      after: next,
      atMs: ctx.now(),
    });
    return { provider: parsed.data, created: !snapshot.exists, changed, auditId };
  });
  let allocationPublished = false;
  let effectiveFromMs: number | null = null;
  if (result.changed) {
    allocationPublished = await publishAfterChange(db, ctx.now(), id);
    effectiveFromMs = (await readAllocation(db, id))?.limits.at(-1)?.startMs ?? null;
    await syncQueuesAfterChange(ctx, id);
  }
  return { ...result, effectiveFromMs, allocationPublished };
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
