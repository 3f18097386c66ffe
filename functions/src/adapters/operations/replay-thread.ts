import { parentPort, workerData } from 'node:worker_threads';
import { type PolicyRunJob, runPolicy } from '../../core/replay/replay';
import type { ThreadMessage } from './replay-threads';

/**
 * A worker thread's entry (replay-threads.ts starts it): simulates the one policy it is given
 * and posts its result, and its progress: at each new simulated second, and within a busy one
 * every PROGRESS_INSTANTS instants or PROGRESS_WALL_MS of work, so a caller watching its deadline
 * (the callable) hears from it as often as when it runs the simulation itself.
 */

const PROGRESS_INSTANTS = 256;
const PROGRESS_WALL_MS = 50;

const post = (message: ThreadMessage) => parentPort?.postMessage(message);
let postedSecond = Number.NEGATIVE_INFINITY;
let postedAt = performance.now();
let instants = 0;
let latestMs: number | undefined;

runPolicy(workerData as PolicyRunJob, (simulatedMs) => {
  latestMs = simulatedMs;
  instants++;
  const second = Math.floor(simulatedMs / 1000);
  if (
    second === postedSecond &&
    instants < PROGRESS_INSTANTS &&
    performance.now() - postedAt < PROGRESS_WALL_MS
  ) {
    return;
  }
  postedSecond = second;
  postedAt = performance.now();
  instants = 0;
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
