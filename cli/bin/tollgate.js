#!/usr/bin/env node
// Runs the TypeScript CLI (cli/src/main.ts) through tsx, as `node --import tsx` would: no
// build step of its own. The functions code it imports (functions/src, CommonJS) is
// TypeScript too and is compiled on the fly by tsx's require hook.
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

registerCjs();
registerEsm();
await import('../src/main.ts');
