import pino from 'pino';

/** pino levels mapped to Cloud Logging severities, so each line is a structured entry. */
const severityByLevel: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

function prettyTransport(): pino.TransportSingleOptions | undefined {
  if (!process.stdout.isTTY || process.env.K_SERVICE) return undefined;
  try {
    require.resolve('pino-pretty');
    return { target: 'pino-pretty', options: { messageKey: 'message', ignore: 'severity' } };
  } catch {
    return undefined;
  }
}

/** Lines kept under test, at most (the latest win). */
const MAX_CAPTURED_LINES = 5_000;

/**
 * In a test (and in the processes tests start), log lines wait here instead of going
 * to stdout: the test setup (devstack/test/setup/logs.ts) prints them for a test that failed
 * and drops them otherwise, so a passing run prints no log line of the code under test.
 */
export const capturedLogLines: string[] = [];
// A vitest worker, or a process its tests start; not the emulators its global setup starts,
// whose logs go to the stack's log file.
const underTest = Boolean(process.env.VITEST_WORKER_ID);
const captured = {
  write(line: string) {
    capturedLogLines.push(line);
    if (capturedLogLines.length > MAX_CAPTURED_LINES) capturedLogLines.shift();
  },
};

const options: pino.LoggerOptions = {
  level: process.env.LOG_LEVEL ?? 'info',
  messageKey: 'message',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: {
    level: (label) => ({ severity: severityByLevel[label] ?? 'DEFAULT' }),
  },
};

export const logger = underTest
  ? pino(options, captured)
  : pino({ ...options, transport: prettyTransport() });
