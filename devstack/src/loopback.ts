import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A connection (or lookup) a process of the stack attempted off loopback, and was refused. */
export interface OffLoopbackAttempt {
  host: string;
  port?: number;
  lookup?: boolean;
  pid: number;
  argv: string[];
  stack?: string[];
}

const GUARD = join(dirname(fileURLToPath(import.meta.url)), 'loopback-guard.cjs');

/**
 * Refuses, and records in `logPath`, every connection off 127.0.0.0/8 this process attempts
 * from now on (see loopback-guard.cjs), and returns the environment that does the same in
 * every process the stack spawns: the emulators and the function workers they start.
 */
export function guardLoopback(logPath: string): {
  env: Record<string, string>;
  attempts(): OffLoopbackAttempt[];
} {
  mkdirSync(dirname(logPath), { recursive: true });
  rmSync(logPath, { force: true });
  process.env.TOLLGATE_OFF_LOOPBACK_LOG = logPath;
  createRequire(import.meta.url)(GUARD);
  const preload = `--require ${JSON.stringify(GUARD)}`;
  const inherited = process.env.NODE_OPTIONS ?? '';
  return {
    env: {
      NODE_OPTIONS: inherited.includes(GUARD) ? inherited : `${inherited} ${preload}`.trim(),
      TOLLGATE_OFF_LOOPBACK_LOG: logPath,
    },
    attempts: () =>
      existsSync(logPath)
        ? readFileSync(logPath, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as OffLoopbackAttempt)
        : [],
  };
}

/**
 * Fails a test run whose processes attempted anything off loopback. Called from a vitest
 * teardown, whose error vitest only prints: the exit code is what fails the run.
 */
export function failOnOffLoopback(attempts: OffLoopbackAttempt[], who: string): void {
  if (attempts.length === 0) return;
  process.exitCode = 1;
  throw new Error(
    `${who} tried to reach ${attempts.length} address(es) off loopback:\n` +
      attempts.map((a) => JSON.stringify(a)).join('\n'),
  );
}

export const OFF_LOOPBACK_LOG = (projectDir: string, name: string) =>
  join(projectDir, '.tollgate', `off-loopback-${name}.jsonl`);
