import { getApps, initializeApp } from 'firebase-admin/app';
import { getFunctions } from 'firebase-admin/functions';
import { z } from 'zod';
import { emulatedServiceAccount } from '../../../functions/src/adapters/firebase.ts';

export const relayRequestSchema = z.object({
  functionName: z.string().min(1),
  location: z.string().min(1),
  data: z.unknown(),
  id: z.string().optional(),
  scheduleTime: z.iso.datetime(),
});
export type RelayRequest = z.infer<typeof relayRequestSchema>;

interface Pending extends RelayRequest {
  timer: NodeJS.Timeout;
}

/** setTimeout takes at most 2^31-1 ms; longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Holds tasks with a future schedule time and enqueues them on the Tasks emulator when due,
 * because the emulator itself dispatches every task at once. Ids are taken for the life of
 * the relay, like the emulator's own deduplication.
 */
export class TaskRelay {
  private readonly pending = new Map<string, Pending>();
  private readonly takenIds = new Set<string>();
  private sequence = 0;

  constructor(
    private readonly enqueue: (request: RelayRequest) => Promise<void>,
    private readonly onError: (error: unknown, request: RelayRequest) => void,
  ) {}

  /** Returns false when the id was already taken. */
  hold(request: RelayRequest): boolean {
    const key = request.id ?? `anonymous-${++this.sequence}`;
    if (request.id) {
      if (this.takenIds.has(request.id)) return false;
      this.takenIds.add(request.id);
    }
    this.arm(key, request);
    return true;
  }

  list(): RelayRequest[] {
    return [...this.pending.values()].map(({ timer: _timer, ...request }) => request);
  }

  stop(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  private arm(key: string, request: RelayRequest): void {
    const delay = Date.parse(request.scheduleTime) - Date.now();
    const timer = setTimeout(
      () => {
        if (Date.parse(request.scheduleTime) > Date.now()) return this.arm(key, request);
        this.pending.delete(key);
        this.enqueue(request).catch((error) => this.onError(error, request));
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
    this.pending.set(key, { ...request, timer });
  }
}

/** Enqueues on the Tasks emulator that CLOUD_TASKS_EMULATOR_HOST names, as production would. */
export function adminEnqueue(projectId: string) {
  // Its own named app: the default one may not exist, or belong to another project.
  const name = `task-relay-${projectId}`;
  return async (request: RelayRequest): Promise<void> => {
    const app =
      getApps().find((a) => a.name === name) ??
      initializeApp({ projectId, serviceAccountId: emulatedServiceAccount(projectId) }, name);
    await getFunctions(app)
      .taskQueue(`locations/${request.location}/functions/${request.functionName}`)
      .enqueue(request.data as Record<string, unknown>, { id: request.id });
  };
}
