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

export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  messageKey: 'message',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: {
    level: (label) => ({ severity: severityByLevel[label] ?? 'DEFAULT' }),
  },
  transport: prettyTransport(),
});
