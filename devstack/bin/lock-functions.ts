import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionsLock } from '../src/deploy/functions-lock.ts';
import { LockfileError } from '../src/deploy/lockfile-resolution.ts';

/**
 * `npm run lock:functions`: writes functions/package-lock.json from the root package-lock.json
 * (offline: nothing is resolved, every version is the one the root install and the tests use).
 * `npm run lock:functions -- --check` only says whether the file is up to date (exit 1 if not);
 * the deploy's predeploy runs it, so a stale lockfile stops the deploy.
 */
const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const target = join(PROJECT_DIR, 'functions', 'package-lock.json');
const check = process.argv.includes('--check');

try {
  const { text, lock } = functionsLock(PROJECT_DIR);
  const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  const count = Object.keys(lock.packages).length - 1;
  if (current === text) {
    console.log(`functions/package-lock.json is up to date (${count} packages)`);
  } else if (check) {
    console.error(
      'functions/package-lock.json does not match the root package-lock.json: run `npm run lock:functions`',
    );
    process.exitCode = 1;
  } else {
    writeFileSync(target, text);
    console.log(`wrote functions/package-lock.json (${count} packages, from the root lockfile)`);
  }
} catch (error) {
  if (!(error instanceof LockfileError)) throw error;
  console.error(`functions/package-lock.json: ${error.message}`);
  process.exitCode = 1;
}
