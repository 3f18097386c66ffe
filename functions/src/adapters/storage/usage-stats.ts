import { type UsageSample, usageStatsUpdate } from '../../core/storage/write-buffer';
import type { WriteBuffer } from './write-buffer';

/**
 * Usage samples written through the write buffer, one per-minute document each (the document's
 * shape is core/storage/write-buffer/usage-stats.ts).
 */

/**
 * Adds one usage sample to its per-minute document `usageStats/{provider}~{category}~{minute}`.
 * Resolves when durable; callers that do not wait should still attach a catch.
 */
export function recordUsage(
  buffer: WriteBuffer,
  sample: UsageSample,
  options: { retentionMs?: number } = {},
): Promise<void> {
  let write: ReturnType<typeof usageStatsUpdate>;
  try {
    write = usageStatsUpdate(sample, options.retentionMs);
  } catch (error) {
    return Promise.reject(error);
  }
  return buffer.merge(write.path, write.data);
}
