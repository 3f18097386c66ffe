import { createRequire } from 'node:module';
import type { QuotaEngine as Engine } from '../../../functions/src/adapters/quota/quota-engine.ts';

/**
 * The quota engine as production runs it: tsc's output in functions/lib (`npm run bench` builds
 * it first), not the TypeScript sources through tsx, whose per-function name helpers cost more
 * than a grant from held tokens.
 */
export const { QuotaEngine } = createRequire(import.meta.url)(
  '../../../functions/lib/adapters/quota/quota-engine.js',
) as { QuotaEngine: typeof Engine };
export type QuotaEngine = Engine;
