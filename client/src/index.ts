/**
 * The typed client of Tollgate's callable API, for apps that use the Firebase JS SDK.
 *
 *     const tollgate = createTollgateClient(getFunctions(app, 'us-central1'));
 *     const status = await tollgate.getStatus();
 *     await tollgate.startCollection({ id: 'deals', provider: 'keepa', category: 'keepa-deals',
 *       targets: { 'amazon-de': 300 } });
 *
 * Everything is derived from the API's one table (`callableRegistry` in
 * functions/src/core/operations): a callable added there is a method here, with its input and result
 * types, and its input is checked with the same zod schema the function parses it with.
 *
 * This package is source: it (and the pure API module it re-exports, which imports nothing but
 * zod) is compiled by whatever builds the app (Vite, esbuild, webpack with a TS loader, vitest,
 * tsx); there is no build step of its own. The project README ("Typed client") says more.
 */
import {
  type Functions,
  type HttpsCallable,
  type HttpsCallableOptions,
  httpsCallable,
} from 'firebase/functions';
import type { z } from 'zod';
import {
  type CallableName,
  type CallableResult,
  type CallableSpec,
  callableNames,
  callableRegistry,
  describeIssues,
  type FieldIssue,
  fieldIssues,
  type ImplementedCallable,
  type Registry,
  TIMEOUT_SECONDS,
} from '../../functions/src/core/operations/index.ts';

export * from '../../functions/src/core/operations/index.ts';

/**
 * What a callable takes. Unlike `CallableInput`, a slot (a callable whose schema is not in the
 * registry yet) takes anything; its function checks it.
 */
export type ClientInput<N extends CallableName> =
  Registry[N] extends CallableSpec<infer I> ? z.input<I> : unknown;

/** The input may be left out when every field of it is optional (`getStatus()`). */
type Args<N extends CallableName> = N extends ImplementedCallable
  ? Partial<ClientInput<N>> extends ClientInput<N>
    ? [input?: ClientInput<N>]
    : [input: ClientInput<N>]
  : [input?: unknown];

/** One method per callable of the registry. */
export type TollgateClient = {
  readonly [N in CallableName]: (...args: Args<N>) => Promise<CallableResult<N>>;
};

/**
 * An input the callable would refuse, found before any request was made. It carries the same
 * code and message (`targets.takealot: Too small: ...`) as the `invalid-argument` error the
 * function would answer with.
 */
export class TollgateInputError extends Error {
  readonly code = 'invalid-argument' as const;
  /** The first invalid field, e.g. `targets.takealot` ('' when the input as a whole is wrong). */
  readonly field: string;
  constructor(
    readonly callable: CallableName,
    readonly issues: FieldIssue[],
  ) {
    super(`${callable}: invalid input: ${describeIssues(issues)}`);
    this.name = 'TollgateInputError';
    this.field = issues[0]?.path ?? '';
  }
}

/**
 * Checks an input against the callable's schema; throws TollgateInputError naming the fields.
 * A missing input counts as `{}`, as it does for the function. Slots are not checked here.
 */
export function validateInput<N extends CallableName>(name: N, input: unknown): void {
  const spec: { input: z.ZodType | null } = callableRegistry[name];
  if (spec.input === null) return;
  const parsed = spec.input.safeParse(input ?? {});
  if (!parsed.success) throw new TollgateInputError(name, fieldIssues(parsed.error));
}

/**
 * How long to wait before calling again, when a call was refused by the per-user call limit
 * (`functions/resource-exhausted`, details `{ retryAfterMs, retryAt }`); undefined for any
 * other error.
 */
export function callLimitWaitMs(error: unknown): number | undefined {
  const { code, details } = (error ?? {}) as { code?: unknown; details?: unknown };
  if (code !== 'functions/resource-exhausted') return undefined;
  const wait = (details as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  return typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 ? wait : undefined;
}

/** How long the Firebase SDK waits for a callable unless told otherwise. */
const SDK_DEFAULT_TIMEOUT_MS = 70_000;

/**
 * Client timeouts for callables whose functions may run longer than the SDK's default of 70 s:
 * their `TIMEOUT_SECONDS` (the same table the functions are deployed with) plus a margin.
 */
export const DEFAULT_TIMEOUTS_MS: Partial<Record<CallableName, number>> = Object.fromEntries(
  Object.entries(TIMEOUT_SECONDS)
    .map(([name, seconds]) => [name, seconds * 1000 + 10_000] as const)
    .filter(([, ms]) => ms > SDK_DEFAULT_TIMEOUT_MS),
);

export interface TollgateClientOptions {
  /** Per callable timeout in ms (the SDK's default of 70 s for any other). */
  timeoutMs?: Partial<Record<CallableName, number>>;
  /** Passed to every `httpsCallable` (e.g. `limitedUseAppCheckTokens`). */
  callableOptions?: HttpsCallableOptions;
}

/**
 * Typed wrappers over `httpsCallable` for every callable of the registry. Each validates its
 * input first (TollgateInputError, no request made); errors from the SDK — `FirebaseError`s such
 * as `functions/permission-denied` or `functions/invalid-argument` — are surfaced unchanged.
 */
export function createTollgateClient(
  functions: Functions,
  options: TollgateClientOptions = {},
): TollgateClient {
  const methods = callableNames.map((name) => {
    const timeout = options.timeoutMs?.[name] ?? DEFAULT_TIMEOUTS_MS[name];
    const callable: HttpsCallable<unknown, unknown> = httpsCallable(functions, name, {
      ...options.callableOptions,
      ...(timeout === undefined ? {} : { timeout }),
    });
    const method = async (input?: unknown) => {
      const data = input ?? {};
      validateInput(name, data);
      return (await callable(data)).data;
    };
    return [name, method] as const;
  });
  return Object.freeze(Object.fromEntries(methods)) as unknown as TollgateClient;
}
