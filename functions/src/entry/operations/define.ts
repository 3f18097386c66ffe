import { defineBoolean } from 'firebase-functions/params';
import { type CallableFunction, type CallableOptions, onCall } from 'firebase-functions/v2/https';
import { operations } from '../../adapters/operations';
import { secretsOf, type UpstreamProvider } from '../../adapters/upstreams/secrets';
import {
  type CallableResult,
  DEFAULT_CALLABLE_TIMEOUT_SECONDS,
  type ImplementedCallable,
  TIMEOUT_SECONDS,
} from '../../core/operations';
import { callableHandler, type DepsSource } from './handler';
import '../options';

/**
 * Deploy-time parameter (functions/.env, true): reject calls without a valid App Check token.
 * The local stack turns it off in functions/.env.local, which only the emulator reads.
 */
export const ENFORCE_APP_CHECK = defineBoolean('ENFORCE_APP_CHECK', {
  default: true,
  description: 'Reject callable requests without a valid App Check token',
});

export { DEFAULT_CALLABLE_TIMEOUT_SECONDS, TIMEOUT_SECONDS } from '../../core/operations';

/**
 * Callables that hold more than the default 256 MiB. A replay holds a minute of simulated calls
 * and the retries pending (core/replay), plus up to MAX_DEMAND_DOCS demand documents and the
 * two runs' gates, claims and waits, and runs its two policies at once, a thread each
 * (adapters/operations/replay-threads.ts): 4 GiB is the tier that comes with 2 vCPUs
 * (https://cloud.google.com/functions/docs/configuring/memory); with one, the runs take turns.
 */
export const MEMORY: Partial<Record<ImplementedCallable, NonNullable<CallableOptions['memory']>>> =
  {
    simulatePolicy: '4GiB',
  };

/**
 * Requests one instance serves at once, where the default (80 with a whole vCPU) would not do: a
 * replay keeps both of its vCPUs busy, so a second one waits for an instance of its own.
 */
export const CONCURRENCY: Partial<Record<ImplementedCallable, number>> = {
  simulatePolicy: 1,
};

export type Callables = {
  [N in ImplementedCallable]: CallableFunction<unknown, Promise<CallableResult<N>>>;
};

/** Callables that call an upstream need its credentials. */
const SECRETS: Partial<Record<ImplementedCallable, UpstreamProvider[]>> = {
  refreshRealtimeSales: ['spapi'],
};

function define<N extends ImplementedCallable>(name: N, deps: DepsSource) {
  const options: CallableOptions = { enforceAppCheck: ENFORCE_APP_CHECK };
  const secrets = SECRETS[name];
  if (secrets) options.secrets = secretsOf(...secrets);
  const timeoutSeconds = TIMEOUT_SECONDS[name];
  if (timeoutSeconds) options.timeoutSeconds = timeoutSeconds;
  const memory = MEMORY[name];
  if (memory) options.memory = memory;
  const concurrency = CONCURRENCY[name];
  if (concurrency) options.concurrency = concurrency;
  // The operation learns its deadline, so long work ends (and releases its leases) before it.
  return onCall(
    options,
    callableHandler(name, operations[name], deps, {
      timeoutSeconds: timeoutSeconds ?? DEFAULT_CALLABLE_TIMEOUT_SECONDS,
    }),
  );
}

/**
 * Every implemented callable of the registry, on `deps` (a function is called per request, so
 * the instance's Firestore is only created on first use). Tests pass their own deps and call
 * `.run(request)`.
 */
export function createCallables(deps: DepsSource): Callables {
  const names = Object.keys(operations) as ImplementedCallable[];
  return Object.fromEntries(names.map((name) => [name, define(name, deps)])) as Callables;
}
