import { db as instanceDb } from '../firebase';
import { instanceWriteBuffer } from '../storage/instance-write-buffer';
import { instanceSelfQuota } from '../storage/self-quota-store';
import { installShutdownFlush } from '../storage/shutdown-flush';
import { WriteBuffer } from '../storage/write-buffer';
import { QuotaEngine } from './quota-engine';
import { DEMAND_FLUSH_INTERVAL_MS } from './quota-engine-options';
import { installShutdownRelease } from './shutdown-release';

/** The instance's quota engine and demand buffer on the default app, made once. */

let shared: QuotaEngine | undefined;
let sharedDemand: WriteBuffer | undefined;

/**
 * The instance's demand buffer: committed every DEMAND_FLUSH_INTERVAL_MS, flushed on SIGTERM
 * (a SIGKILL loses at most that much recorded demand).
 */
export function instanceDemandBuffer(): WriteBuffer {
  if (!sharedDemand) {
    sharedDemand = new WriteBuffer(instanceDb(), { intervalMs: DEMAND_FLUSH_INTERVAL_MS });
    installShutdownFlush(sharedDemand);
  }
  return sharedDemand;
}

/**
 * The instance's engine: default app, usage statistics and self-quota through its buffer,
 * recorded demand through the demand buffer.
 */
export function instanceQuotaEngine(): QuotaEngine {
  if (!shared) {
    const selfQuota = instanceSelfQuota();
    const demandBuffer = instanceDemandBuffer();
    // Stretched near Firestore's quota like the instance buffer (self-quota-store.ts).
    demandBuffer.setThrottle((ms) => selfQuota.delayMs(ms));
    shared = new QuotaEngine(instanceDb(), {
      buffer: instanceWriteBuffer(),
      demandBuffer,
      selfQuota,
      idleTimer: true,
    });
    installShutdownRelease(shared);
  }
  return shared;
}
