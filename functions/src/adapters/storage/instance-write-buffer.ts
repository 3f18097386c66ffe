import { db as instanceDb } from '../firebase';
import { installShutdownFlush } from './shutdown-flush';
import { WriteBuffer } from './write-buffer';

/**
 * The instance's shared write buffer: one per function instance, on the default app, flushed on
 * SIGTERM (shutdown-flush.ts).
 */

let shared: WriteBuffer | undefined;

/** The instance's buffer on the default app, flushed on SIGTERM. */
export function instanceWriteBuffer(): WriteBuffer {
  if (!shared) {
    shared = new WriteBuffer(instanceDb());
    installShutdownFlush(shared);
  }
  return shared;
}
