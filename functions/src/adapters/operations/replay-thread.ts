import { parentPort, workerData } from 'node:worker_threads';
import { type PolicyRunJob, runPolicy } from '../../core/replay/replay';
import type { ThreadMessage } from './replay-threads';

/**
 * A worker thread's entry (replay-threads.ts starts it): simulates the one policy it is given
 * and posts its progress, once per simulated second, and its result.
 */

const post = (message: ThreadMessage) => parentPort?.postMessage(message);
let postedSecond = Number.NEGATIVE_INFINITY;
let latestMs: number | undefined;

runPolicy(workerData as PolicyRunJob, (simulatedMs) => {
  latestMs = simulatedMs;
  const second = Math.floor(simulatedMs / 1000);
  if (second === postedSecond) return;
  postedSecond = second;
  post({ kind: 'progress', simulatedMs });
}).then(
  (run) => {
    // The last instant too, so progress ends where the run did.
    if (latestMs !== undefined) post({ kind: 'progress', simulatedMs: latestMs });
    post({ kind: 'done', run });
  },
  (error: unknown) => {
    const e = error instanceof Error ? error : new Error(String(error));
    post({
      kind: 'failed',
      name: e.name,
      message: e.message,
      ...(e.stack ? { stack: e.stack } : {}),
    });
  },
);
