import { setUpstreamUrlRules } from '../core/upstreams/upstream-url';

/**
 * Whether this process runs against emulators, never production: a function in the Functions
 * emulator (`FUNCTIONS_EMULATOR`), or any process whose Firestore is an emulator (the local
 * stack's tools, the CLI with `--local`, the tests). Read at each call, so a process that
 * points itself at the emulators after loading (the CLI) is seen as it is.
 */
export function runsEmulated(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.FUNCTIONS_EMULATOR === 'true' || Boolean(env.FIRESTORE_EMULATOR_HOST);
}

/** A function in the Functions emulator (not deployed). */
export function inFunctionsEmulator(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.FUNCTIONS_EMULATOR === 'true';
}

// Upstream URLs (core/upstreams/upstream-url.ts): plain http to loopback, the sandboxes, only emulated.
setUpstreamUrlRules(() => ({ loopbackHttp: runsEmulated() }));
