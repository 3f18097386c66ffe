import { z } from 'zod';
import { BackupError, canonicalJson } from './backup-file';

/**
 * The scheduled backup's own JSON files (manifest, objects lists): read only as written, in
 * canonical JSON, and checked against their schemas; the fields the schemas share.
 */

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');
export const count = z.number().int().nonnegative();

export function parseStrict(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BackupError('corrupt', `${what} is not valid UTF-8`);
  }
  if (text.trim() === '') throw new BackupError('truncated', `${what} is empty`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const kind = /end of JSON input|Unterminated/i.test((error as Error).message)
      ? 'truncated'
      : 'corrupt';
    throw new BackupError(kind, `${what} is not valid JSON (${(error as Error).message})`);
  }
  let canonical: string;
  try {
    canonical = canonicalJson(raw);
  } catch (error) {
    throw new BackupError('shape', `${what}: ${(error as Error).message}`);
  }
  if (text === canonical) throw new BackupError('truncated', `${what} ends early`);
  if (text !== `${canonical}\n`) {
    throw new BackupError('noncanonical', `${what} was changed after it was written`);
  }
  return raw;
}

export function shapeError(what: string, error: z.ZodError): BackupError {
  const issues = error.issues.map((i) => `${what}.${i.path.join('.') || '(root)'}: ${i.message}`);
  return new BackupError('shape', issues.slice(0, 5).join('; '), issues);
}
