import type { WorkHandler } from './work-runner';

/**
 * Which handler serves each kind of work item. Upstream adapters register theirs (a Keepa
 * product fetch, an SP-API report, a proxied price history) when loaded, so the queues stay
 * free of upstream clients.
 */
const handlers: Record<string, WorkHandler> = {};

/** Registers (or replaces) a kind's handler; returns a function that unregisters it. */
export function registerWorkHandler(kind: string, handler: WorkHandler): () => void {
  handlers[kind] = handler;
  return () => {
    if (handlers[kind] === handler) delete handlers[kind];
  };
}

/** The live registry (the runner looks kinds up at run time). */
export function workHandlers(): Record<string, WorkHandler> {
  return handlers;
}
