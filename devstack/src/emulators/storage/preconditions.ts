import { badRequest, conditionNotMet, notModified } from './errors.ts';

// The four generation/metageneration conditions of the JSON API. `ifGenerationMatch=0` means
// "only if no live object exists", which is how callers get create-if-absent.
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

const KEYS = [
  'ifGenerationMatch',
  'ifGenerationNotMatch',
  'ifMetagenerationMatch',
  'ifMetagenerationNotMatch',
] as const;

/** `prefix` reads the copy source's variants: `ifSource` gives `ifSourceGenerationMatch`... */
export function parsePreconditions(query: URLSearchParams, prefix = 'if'): Preconditions {
  const out: Preconditions = {};
  for (const key of KEYS) {
    const name = prefix + key.slice(2);
    const raw = query.get(name);
    if (raw === null) continue;
    if (!/^\d+$/.test(raw)) throw badRequest(`Invalid value for ${name}: ${raw}`);
    out[key] = Number(raw);
  }
  return out;
}

interface Versioned {
  generation: number;
  metageneration: number;
}

/**
 * Throws 412 when a condition fails (or 304 for a read's `NotMatch`). `current` is undefined
 * when no object exists; only writes get this far without an object, reads 404 first.
 */
export function checkPreconditions(
  current: Versioned | undefined,
  p: Preconditions,
  read = false,
): void {
  const generation = current?.generation ?? 0;
  if (p.ifGenerationMatch !== undefined && p.ifGenerationMatch !== generation) {
    throw conditionNotMet();
  }
  if (
    p.ifMetagenerationMatch !== undefined &&
    p.ifMetagenerationMatch !== current?.metageneration
  ) {
    throw conditionNotMet();
  }
  const notMatchFailed =
    (p.ifGenerationNotMatch !== undefined && p.ifGenerationNotMatch === generation) ||
    (p.ifMetagenerationNotMatch !== undefined &&
      current !== undefined &&
      p.ifMetagenerationNotMatch === current.metageneration);
  if (notMatchFailed) throw read ? notModified() : conditionNotMet();
}
