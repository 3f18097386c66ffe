import { type UsageSample, usageStatsUpdate } from '../../core/storage/write-buffer';
import { db as instanceDb } from '../firebase';
import { WriteBuffer } from './group-commit';
import { installShutdownFlush } from './shutdown-flush';

/**
 * The write buffer's entry: the instance's shared buffer and usage samples written through it.
 * The buffer itself is in group-commit.ts, its options and reports in write-buffer-types.ts,
 * the flush on shutdown in shutdown-flush.ts.
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

let shared: WriteBuffer | undefined;

/** The instance's buffer on the default app, flushed on SIGTERM. */
export function instanceWriteBuffer(): WriteBuffer {
  if (!shared) {
    shared = new WriteBuffer(instanceDb());
    installShutdownFlush(shared);
  }
  return shared;
}
