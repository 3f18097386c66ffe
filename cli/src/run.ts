import type { Firestore } from 'firebase-admin/firestore';
import {
  type Operation,
  type Operations,
  operations,
} from '../../functions/src/adapters/operations/index.ts';
import type {
  Actor,
  CallableName,
  CallableResult,
  ImplementedCallable,
  ParsedInput,
} from '../../functions/src/core/operations/index.ts';
// Values from the API's own modules (see errors.ts).
import {
  callableRegistry,
  isCallableName,
  isImplemented,
} from '../../functions/src/core/operations/registry.ts';
import { FailureError, inputFailure, UsageError } from './errors.ts';
import type { Session } from './session.ts';

/** A callable the CLI can run: in the registry with a schema, and with an operation. */
export type Runnable = ImplementedCallable & keyof Operations;

export function isRunnable(name: CallableName): name is Runnable {
  return isImplemented(name) && typeof (operations as Record<string, unknown>)[name] === 'function';
}

export function runnableName(name: string): Runnable {
  if (!isCallableName(name)) {
    throw new UsageError(`unknown callable "${name}" (see: tollgate callables)`);
  }
  if (!isRunnable(name)) {
    throw new UsageError(`callable "${name}" is not implemented yet`);
  }
  return name;
}

/**
 * Runs a callable's operation as its function does (entry/operations/handler.ts), with the
 * CLI's admin actor: the input is parsed with the registry's schema first (an invalid input
 * fails naming its fields, before anything runs), then the operation gets the parsed input and
 * the raw one. Changes are audited by the operation itself, under the CLI's actor.
 */
export async function runOperation<N extends Runnable>(
  session: Session,
  actor: Actor,
  name: N,
  raw: unknown,
  overrides: {
    db?: Firestore;
    /** simulatePolicy's progress (the replay's simulated time), for a progress bar. */
    onReplayProgress?: (doneMs: number, totalMs: number) => void;
  } = {},
): Promise<CallableResult<N>> {
  const input = raw ?? {};
  const schema = callableRegistry[name].input;
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new FailureError(inputFailure(name, parsed.error));
  const operation = operations[name] as unknown as Operation<N>;
  const context = { ...session.deps, ...overrides, actor };
  return operation(context, parsed.data as ParsedInput<N>, input);
}
