/**
 * Work items running in this instance now. The response buffer stores what it holds as soon as
 * every running item waits on it: nothing more can join the flush soon, so waiting longer only
 * delays their answers (an instance running one task at a time flushes each product at once).
 */
let running = 0;

export function runningWork(): number {
  return running;
}

export async function asRunningWork<T>(run: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await run();
  } finally {
    running--;
  }
}
