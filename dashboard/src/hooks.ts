import { callLimitWaitMs } from '@tollgate/client';
import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * Live data by polling the callables: the Firestore web SDK in a browser speaks WebChannel,
 * which the local stack's embedded emulator (gRPC) does not serve, and polling works the same
 * against the emulators and in production. A refusal by the per-user call limit waits as long
 * as the callable said before the next call.
 */
export interface Polled<T> {
  data: T | null;
  error: unknown;
  /** When the data was fetched (epoch ms). */
  at: number | null;
  loading: boolean;
  refresh: () => void;
}

const EMPTY_POLL = { data: null, error: null, at: null } as const;

/** Polls `fetcher` every `intervalMs`; when `deps` change, the state starts again from empty. */
export function usePoll<T>(
  fetcher: (() => Promise<T>) | null,
  intervalMs: number,
  deps: readonly unknown[],
): Polled<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; at: number | null }>({
    data: null,
    error: null,
    at: null,
  });
  const [loading, setLoading] = useState(true);
  const tick = useRef<() => void>(() => undefined);

  useEffect(() => {
    // New deps, new data: what was fetched for the previous ones is not shown for these.
    setState((s) => (s.data === null && s.error === null && s.at === null ? s : EMPTY_POLL));
    setLoading(true);
    if (!fetcher) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const run = async () => {
      if (running) return;
      running = true;
      clearTimeout(timer);
      let wait = intervalMs;
      try {
        const data = await fetcher();
        if (!stopped) setState({ data, error: null, at: Date.now() });
      } catch (error) {
        wait = Math.max(intervalMs, callLimitWaitMs(error) ?? 0);
        if (!stopped) setState((s) => ({ ...s, error }));
      } finally {
        running = false;
        if (!stopped) {
          setLoading(false);
          timer = setTimeout(run, document.hidden ? Math.max(wait, 30_000) : wait);
        }
      }
    };
    tick.current = () => void run();
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);

  return { ...state, loading, refresh: () => tick.current() };
}

/** The current time, ticking every second (countdowns). */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/**
 * A hash route's segments: `#/collections/x` -> ['collections', 'x']. A segment that is not
 * valid percent-encoding (`%E0%A4%A`) stays as typed rather than throwing.
 */
export function parseHash(hash: string): string[] {
  return hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

/** The hash route: `#/collections/x` -> ['collections', 'x']. */
export function useRoute(): string[] {
  const read = () => parseHash(location.hash);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
