import { describe, expect, it } from 'vitest';
import { BACKUP_COLLECTIONS } from '../../src/adapters/backup/backup-export';
import { CONFIG_PATHS } from '../../src/adapters/config-repository';
import { AUTOSYNC_COLLECTION } from '../../src/adapters/pipeline/autosync-state';
import { COLLECTIONS_PATH } from '../../src/adapters/pipeline/collections-repository';
import { INGEST_COLLECTION } from '../../src/adapters/pipeline/ingest-queues';
import { PIPELINE_CONFIG_PATH } from '../../src/adapters/pipeline/pipeline-config';
import { PRODUCTS_PATH } from '../../src/adapters/pipeline/product-documents';
import { SALES_COLLECTION } from '../../src/adapters/pipeline/sales-repository';
import { QUOTA_COLLECTIONS } from '../../src/adapters/quota/collections';
import {
  CONFIG_DOCUMENTS,
  EXPORTABLE_COLLECTIONS,
  exportablePath,
  RESTORABLE_COLLECTIONS,
  restorablePathProblem,
} from '../../src/core/backup/backup-scope';
import { AUDIT_LOG_COLLECTION } from '../../src/core/operations';
import { PAYLOADS_COLLECTION } from '../../src/core/storage/payloads';
import { USAGE_STATS_COLLECTION } from '../../src/core/storage/write-buffer/usage-stats';

describe('what a backup holds and a restore writes', () => {
  it("names the adapters' collections of configuration and state, and nothing else", () => {
    expect([...RESTORABLE_COLLECTIONS].sort()).toEqual(
      [
        CONFIG_PATHS.providers,
        CONFIG_PATHS.categories,
        CONFIG_PATHS.flags.split('/')[0],
        COLLECTIONS_PATH,
        QUOTA_COLLECTIONS.cooldowns,
        QUOTA_COLLECTIONS.cooldownHistory,
        QUOTA_COLLECTIONS.allocations,
        AUTOSYNC_COLLECTION,
        INGEST_COLLECTION,
      ].sort(),
    );
    expect(BACKUP_COLLECTIONS).toEqual(RESTORABLE_COLLECTIONS);
    expect(CONFIG_DOCUMENTS.map((d) => `config/${d}`).sort()).toEqual(
      [CONFIG_PATHS.flags, PIPELINE_CONFIG_PATH].sort(),
    );
  });

  it('never restores the audit log, quota claims, statistics, payloads or collected data', () => {
    for (const collection of [
      AUDIT_LOG_COLLECTION,
      QUOTA_COLLECTIONS.blocks,
      QUOTA_COLLECTIONS.slots,
      QUOTA_COLLECTIONS.meters,
      QUOTA_COLLECTIONS.returns,
      USAGE_STATS_COLLECTION,
      PAYLOADS_COLLECTION,
      PRODUCTS_PATH,
      SALES_COLLECTION,
    ]) {
      expect(restorablePathProblem(`${collection}/x`), collection).toBeDefined();
    }
    expect(EXPORTABLE_COLLECTIONS).toContain(AUDIT_LOG_COLLECTION);
    expect(exportablePath('auditLog/x')).toBe(true);
    expect(exportablePath('auditLog/x/sub/y')).toBe(false);
  });

  it('restores ingest items, not leases or deeper documents', () => {
    expect(restorablePathProblem('ingest/deals/items/B1')).toBeUndefined();
    expect(restorablePathProblem('ingest/deals')).toBeUndefined();
    expect(restorablePathProblem('ingest/deals/lease/current')).toBeDefined();
    expect(restorablePathProblem('autosync/s/lease/current')).toBeDefined();
    expect(restorablePathProblem('ingest/deals/items/B1/x/y')).toBeDefined();
    expect(restorablePathProblem('config/flags')).toBeUndefined();
    expect(restorablePathProblem('config/other')).toBeDefined();
  });
});
