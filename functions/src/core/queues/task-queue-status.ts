/** A Cloud Tasks queue as health, metrics and operators see it (from the queue's stats). */
export interface TaskQueueStatus {
  queue: string;
  state: 'RUNNING' | 'PAUSED' | 'DISABLED' | 'UNKNOWN';
  /** Tasks waiting, scheduled ahead or due (Cloud Tasks' count is approximate). */
  tasks: number;
  /**
   * How long the task due first has waited past its schedule time (from Cloud Tasks' oldest
   * estimated arrival time): 0 while it is not yet due, null when nothing waits.
   */
  oldestTaskAgeSeconds: number | null;
  dispatchedLastMinute: number;
  dispatchesInFlight: number;
  maxDispatchesPerSecond: number;
  maxConcurrentDispatches: number;
}
