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
    return await new Promise<PolicyRun[]>((resolve, reject) => {
      const runs: Array<PolicyRun | undefined> = jobs.map(() => undefined);
      let left = jobs.length;
      jobs.forEach((job, i) => {
        const worker = startThread(job);
        workers.push(worker);
        worker.on('message', (message: ThreadMessage) => {
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
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (!runs[i])
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
  if (__filename.endsWith('.js')) {
    return new Worker(join(__dirname, 'replay-thread.js'), { workerData });
  }
  const source = join(__dirname, 'replay-thread.ts');
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});`, {
    eval: true,
    workerData,
  });
}
