import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The local stack's own secrets in functions/.secret.local (besides the sandboxes'
 * credentials): the Functions emulator reads that file instead of Secret Manager, and asks
 * Secret Manager (off loopback) for any secret it lacks or holds empty.
 */

export const METRICS_TOKEN_SECRET = 'TOLLGATE_METRICS_TOKEN';

const LINE = (name: string) => new RegExp(`^${name}=(.*)$`, 'm');

/**
 * The token `metrics` and `health` detail want locally: the one functions/.secret.local holds
 * (a developer's own is kept), else a new random one written there.
 */
export function localMetricsToken(functionsDir: string): string {
  const path = join(functionsDir, '.secret.local');
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const held = LINE(METRICS_TOKEN_SECRET).exec(existing)?.[1]?.trim();
  if (held) return held;
  const token = `local-${randomBytes(18).toString('base64url')}`;
  const line = `${METRICS_TOKEN_SECRET}=${token}`;
  const text =
    held === undefined
      ? `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${line}\n`
      : existing.replace(LINE(METRICS_TOKEN_SECRET), line);
  writeFileSync(path, text);
  return token;
}
