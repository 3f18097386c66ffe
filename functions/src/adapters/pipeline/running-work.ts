/**
 * Tasks that store collected products, running in this instance now. The response buffer
 * stores what it holds as soon as every such task waits on it: nothing more can join the flush
 * soon, so waiting longer only delays their answers (an instance running one task at a time
 * flushes each product at once). It is told when one ends, since that may leave all the others
 * waiting.
 */
let running = 0;
const ended = new Set<() => void>();

export function runningWork(): number {
  return running;
}

/** Calls `listener` each time a running task ends. */
export function onWorkEnded(listener: () => void): void {
  ended.add(listener);
}

export async function asRunningWork<T>(run: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await run();
  } finally {
    running--;
    for (const listener of ended) listener();
  }
}
