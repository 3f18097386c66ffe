import type { Firestore } from 'firebase-admin/firestore';
import { WriteBuffer } from '../../../functions/src/adapters/storage/write-buffer.ts';
import { increment } from '../../../functions/src/core/storage/write-buffer/field-ops.ts';

export interface WriteBufferBenchResult {
  logicalUpdates: number;
  documentWrites: number;
  /** 1 - documentWrites / logicalUpdates. */
  reduction: number;
  /** Increments acknowledged but missing from the stored totals (must be 0). */
  lost: number;
}

/**
 * Many callers incrementing shared counter documents (per-minute usage statistics) through
 * the group-commit buffer; then every acknowledged increment is checked in Firestore.
 */
export async function runWriteBufferBench(
  db: Firestore,
  options: { callers: number; updatesPerCaller: number; counters: number; collection: string },
): Promise<WriteBufferBenchResult> {
  const buffer = new WriteBuffer(db);
  const acknowledged = new Array<number>(options.counters).fill(0);
  // Each caller records a usage update per call it makes (about one a millisecond) and does
  // not stop to wait for each: it awaits them all at the end, as a worker would.
  await Promise.all(
    Array.from({ length: options.callers }, async (_, caller) => {
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < options.updatesPerCaller; i++) {
        const counter = (caller * 7 + i) % options.counters;
        pending.push(
          buffer
            .update(`${options.collection}/counter-${counter}`, {
              calls: increment(1),
              [`byCaller.c${caller % 10}`]: increment(1),
            })
            .then(() => {
              acknowledged[counter]!++;
            }),
        );
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
    }),
  );
  await buffer.flush();
  const stats = buffer.stats();
  let lost = 0;
  const snaps = await db.getAll(
    ...acknowledged.map((_, i) => db.doc(`${options.collection}/counter-${i}`)),
  );
  snaps.forEach((snap, i) => {
    lost += Math.max(0, acknowledged[i]! - Number(snap.get('calls') ?? 0));
  });
  const logicalUpdates = options.callers * options.updatesPerCaller;
  return {
    logicalUpdates,
    documentWrites: stats.documentWrites + stats.markerWrites,
    reduction: 1 - (stats.documentWrites + stats.markerWrites) / logicalUpdates,
    lost,
  };
}
