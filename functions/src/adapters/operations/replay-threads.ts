import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type PolicyRun, type PolicyRunner, runInTurn } from '../../core/replay/replay';

/**
 * A replay's two simulations at once, each in a worker thread of its own (the gate's work is
 * CPU-bound and the runs share nothing), where the host has a core for each; in turn otherwise.
 * Same jobs, same seeds, same answers: only the wall time changes.
 */

/** What a replay thread (replay-thread.ts) posts back. */
export type ThreadMessage =
  | { kind: 'progress'; simulatedMs: number }
  | { kind: 'done'; run: PolicyRun }
  | { kind: 'failed'; name: string; message: string; stack?: string };

/** The simulations in worker threads when the host has at least two cores, else in turn. */
export function threadRunner(cores = availableParallelism()): PolicyRunner {
  return (jobs, onProgress) =>
    cores >= 2 && jobs.length >= 2 ? inThreads(jobs, onProgress) : runInTurn(jobs, onProgress);
}

const inThreads: PolicyRunner = async (jobs, onProgress) => {
  const workers: Worker[] = [];
  try {
    return await new Promise<PolicyRun[]>((resolveAll, rejectAll) => {
      const runs: Array<PolicyRun | undefined> = jobs.map(() => undefined);
      let left = jobs.length;
      // Once the replay is answered (or failed, or out of time), what the threads still had on
      // the way is dropped: a progress callback that threw is never told again.
      let settled = false;
      const resolve = (value: PolicyRun[]) => {
        settled = true;
        resolveAll(value);
      };
      const reject = (error: unknown) => {
        settled = true;
        rejectAll(error);
      };
      jobs.forEach((job, i) => {
        const worker = startThread(job);
        workers.push(worker);
        worker.on('message', (message: ThreadMessage) => {
          if (settled) return;
          if (message.kind === 'progress') {
            // A progress callback that throws (out of time) stops every run.
            try {
              onProgress(i, message.simulatedMs);
            } catch (error) {
              reject(error);
            }
          } else if (message.kind === 'done') {
            runs[i] = message.run;
            if (--left === 0) resolve(runs as PolicyRun[]);
          } else {
            const error = new Error(message.message);
            error.name = message.name;
            if (message.stack) error.stack = message.stack;
            reject(error);
          }
        });
        worker.on('error', (error) => {
          if (!settled) reject(error);
        });
        worker.on('exit', (code) => {
          if (!settled && !runs[i])
            reject(new Error(`replay thread ${i} exited (code ${code}) without a result`));
        });
      });
    });
  } finally {
    // Done, failed or out of time: no thread outlives the replay.
    await Promise.all(workers.map((w) => w.terminate()));
  }
};

/**
 * A thread running replay-thread beside this module: compiled (functions/lib, as deployed), or
 * from the TypeScript sources through tsx (the CLI and the tests run the sources).
 */
function startThread(workerData: unknown): Worker {
  const options = { workerData, resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } };
  if (__filename.endsWith('.js')) {
    return new Worker(join(__dirname, 'replay-thread.js'), options);
  }
  const source = join(__dirname, 'replay-thread.ts');
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});`, {
    ...options,
    eval: true,
  });
}

/**
 * A thread's heap at most: two of them fit the callable's 4 GiB beside the main thread, and a
 * run that outgrows its heap fails the replay (ERR_WORKER_OUT_OF_MEMORY) instead of the
 * instance. A busy day's run holds a few hundred MiB.
 */
const THREAD_HEAP_MB = 1_536;
