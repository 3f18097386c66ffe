import { Registry } from '../registry';
import type { WorkHandler } from './work-runner';

/** Which handler serves each kind of work item (a Keepa product fetch, an SP-API report...). */
const handlers = new Registry<WorkHandler>();

export function registerWorkHandler(kind: string, handler: WorkHandler): () => void {
  return handlers.register(kind, handler);
}

export function workHandler(kind: string): WorkHandler | undefined {
  return handlers.get(kind);
}
