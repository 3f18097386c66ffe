import type { Firestore } from 'firebase-admin/firestore';
import { logger } from '../../log';
import { loadRuntimeConfig } from '../config-repository';
import { publishAllocation } from './allocations';

export interface Republished {
  provider: string;
  /** Categories whose share changed with this publication. */
  changed: string[];
}

/**
 * Publishes the allocation of every provider (or only of `providers`) from a fresh, validated
 * read of the configuration. Publishing unchanged shares writes nothing, so this is safe to run
 * at any time; a share change takes effect after the allocation's lead time.
 */
export async function republishAllocations(
  db: Firestore,
  nowMs: number,
  providers?: readonly string[],
): Promise<Republished[]> {
  const config = await loadRuntimeConfig(db);
  const chosen = config.providers.filter((p) => !providers || providers.includes(p.id));
  return Promise.all(
    chosen.map(async (provider) => {
      const { changed } = await publishAllocation(db, provider.id, nowMs);
      return { provider: provider.id, changed };
    }),
  );
}

/**
 * Publishes the provider's allocation after a committed share change, so the gate switches
 * after its lead time. The change is durable, so a failure is logged rather than thrown: the
 * next gate of the provider publishes it (isBehind), or the twice-daily allocation update.
 */
export async function publishAfterChange(
  db: Firestore,
  nowMs: number,
  provider: string,
): Promise<boolean> {
  try {
    await republishAllocations(db, nowMs, [provider]);
    return true;
  } catch (error) {
    logger.error({ err: error, provider }, 'allocation not republished after a share change');
    return false;
  }
}
