import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLLECTION_WARNINGS } from '../../src/adapters/pipeline/collections-repository';
import { QUOTA_COLLECTIONS } from '../../src/adapters/quota/collections';
import { BATCH_MARKER_COLLECTION } from '../../src/adapters/storage/write-buffer-types';
import {
  FLEET_HOUR_COLLECTION,
  FLEET_MINUTE_COLLECTION,
} from '../../src/core/observability/fleet-stats';

interface FieldOverride {
  collectionGroup: string;
  fieldPath: string;
  ttl?: boolean;
  indexes: unknown[];
}

const config = JSON.parse(
  readFileSync(join(__dirname, '..', '..', '..', 'firestore.indexes.json'), 'utf8'),
) as { fieldOverrides: FieldOverride[] };

describe('firestore.indexes.json', () => {
  // Every collection whose documents carry `expiresAt` for clean-up must have a TTL policy,
  // or its documents pile up forever in production.
  it.each([
    QUOTA_COLLECTIONS.blocks,
    QUOTA_COLLECTIONS.slots,
    BATCH_MARKER_COLLECTION,
    'usageStats',
    'selfQuotaWarnings',
    COLLECTION_WARNINGS,
    'aggregationStats',
    FLEET_MINUTE_COLLECTION,
    FLEET_HOUR_COLLECTION,
  ])('has a TTL policy on %s.expiresAt', (collection) => {
    const override = config.fieldOverrides.find(
      (o) => o.collectionGroup === collection && o.fieldPath === 'expiresAt',
    );
    expect(override?.ttl).toBe(true);
  });

  it("exempts the fleet statistics' maps from indexing (hundreds of counters per document)", () => {
    for (const collection of [FLEET_MINUTE_COLLECTION, FLEET_HOUR_COLLECTION]) {
      for (const field of ['upstream', 'queues']) {
        const override = config.fieldOverrides.find(
          (o) => o.collectionGroup === collection && o.fieldPath === field,
        );
        expect(override?.indexes, `${collection}.${field}`).toEqual([]);
      }
    }
  });

  it('exempts the claim counters that only grow from indexing', () => {
    for (const field of ['start', 'end', 'claimedAt']) {
      const override = config.fieldOverrides.find(
        (o) => o.collectionGroup === QUOTA_COLLECTIONS.blocks && o.fieldPath === field,
      );
      expect(override?.indexes).toEqual([]);
    }
  });
});
