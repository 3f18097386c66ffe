import type { Command } from 'commander';
import type { Actor } from '../../functions/src/core/operations/index.ts';
import type { Progress, Stream } from './output.ts';
import type { Runnable, runOperation } from './run.ts';
import type { Session } from './session.ts';

/**
 * What the command modules (*-commands.ts) share with program.ts: the global options, what a
 * command's action gets, and the program, action wrapper and output they register with.
 */

export interface GlobalOptions {
  project?: string;
  local?: boolean;
  json?: boolean;
  progress?: boolean;
  verbose?: boolean;
}

/** What a command's action gets: the session (opened on first use), the actor, output. */
export interface Run {
  session(): Promise<Session>;
  /** Looked up on first use (the ADC principal). */
  actor(): Promise<Actor>;
  json: boolean;
  progress: Progress;
  call<N extends Runnable>(
    name: N,
    input: unknown,
    overrides?: Parameters<typeof runOperation>[4],
  ): ReturnType<typeof runOperation<N>>;
  /** The result: JSON with --json, else the human rendering. */
  print<T>(value: T, human: (value: T) => string): void;
}

/** runCli's `action`: wraps a command's body with its session, actor and output. */
export type Action = <A extends unknown[]>(
  body: (run: Run, ...args: A) => Promise<void>,
) => (...args: A) => Promise<void>;

/** What each group of commands registers with: the program, the action wrapper, output. */
export interface CommandContext {
  program: Command;
  action: Action;
  stdout: Stream;
  stderr: Stream;
}
