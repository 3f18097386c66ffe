/**
 * What serves each key (an auto-sync source, an ingest provider, a kind of work). Upstream
 * adapters register theirs when loaded, so queues and schedules stay free of upstream clients
 * and run with whatever is wired.
 */
export class Registry<T> {
  private readonly entries = new Map<string, T>();

  /** Registers (or replaces) the key's entry; returns a function that unregisters it. */
  register(key: string, value: T): () => void {
    this.entries.set(key, value);
    return () => {
      if (this.entries.get(key) === value) this.entries.delete(key);
    };
  }

  get(key: string): T | undefined {
    return this.entries.get(key);
  }
}
