import { logger } from '../../log';

/** Minimal view of `process`, so tests can deliver signals without signalling the runner. */
export interface SignalTarget {
  pid: number;
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
  listenerCount(signal: NodeJS.Signals): number;
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

/**
 * Flushes the buffer when the instance is told to stop (Cloud Functions sends SIGTERM, then
 * kills the instance seconds later). Once the flush settles and no other listener for the
 * signal remains, the signal is raised again so the default handling ends the process.
 * Returns the uninstall function.
 */
export function installShutdownFlush(
  buffer: { flush(): Promise<void> },
  options: { signals?: NodeJS.Signals[]; target?: SignalTarget } = {},
): () => void {
  const target: SignalTarget = options.target ?? process;
  const signals = options.signals ?? ['SIGTERM'];
  const handlers = signals.map((signal) => {
    const handler = () => {
      logger.info({ signal }, 'flushing the write buffer before shutdown');
      buffer
        .flush()
        .catch((error: unknown) => logger.error({ err: error }, 'shutdown flush failed'))
        .finally(() => {
          target.off(signal, handler);
          if (target.listenerCount(signal) === 0) target.kill(target.pid, signal);
        });
    };
    target.on(signal, handler);
    return { signal, handler };
  });
  return () => {
    for (const { signal, handler } of handlers) target.off(signal, handler);
  };
}
