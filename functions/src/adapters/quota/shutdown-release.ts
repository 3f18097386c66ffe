import { logger } from '../../log';
import type { SignalTarget } from '../storage/shutdown-flush';

/** On SIGTERM, giving back waits at most this long before the process is let go. */
export const SHUTDOWN_RELEASE_TIMEOUT_MS = 3_000;

/**
 * Gives back what the engine holds when the instance is told to stop (Cloud Functions sends
 * SIGTERM, then kills the instance seconds later), waiting at most `timeoutMs`. Once done, and
 * no other listener for the signal remains, the signal is raised again so the default handling
 * ends the process. Returns the uninstall function.
 */
export function installShutdownRelease(
  engine: { shutdown(): Promise<void> },
  options: { signals?: NodeJS.Signals[]; target?: SignalTarget; timeoutMs?: number } = {},
): () => void {
  const target: SignalTarget = options.target ?? process;
  const signals = options.signals ?? ['SIGTERM'];
  const timeoutMs = options.timeoutMs ?? SHUTDOWN_RELEASE_TIMEOUT_MS;
  const handlers = signals.map((signal) => {
    const handler = () => {
      logger.info({ signal }, 'giving back quota before shutdown');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn({ signal, timeoutMs }, 'quota give-back still running at shutdown');
          resolve();
        }, timeoutMs);
      });
      Promise.race([engine.shutdown(), timeout])
        .catch((error: unknown) => logger.error({ err: error }, 'quota give-back failed'))
        .finally(() => {
          clearTimeout(timer);
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
