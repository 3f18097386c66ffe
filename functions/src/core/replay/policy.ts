import { z } from 'zod';
import {
  ConfigError,
  categorySchema,
  type Flags,
  flagsSchema,
  formatPath,
  providerSchema,
  type RuntimeConfig,
  validateRuntimeConfig,
} from '../config';

/** A replay's proposed policy: the configuration documents that would change, applied. */

/**
 * The documents a policy file changes, matched by id: a document's fields go over the current
 * document's (so `{id: "deals", sharePercent: 50}` is enough), a new id is a new document;
 * flags field by field.
 */
export const policySchema = z.strictObject({
  providers: z.array(z.unknown()).max(100).optional(),
  categories: z.array(z.unknown()).max(10_000).optional(),
  flags: z.record(z.string(), z.unknown()).optional(),
});
export type PolicyInput = z.infer<typeof policySchema>;

/**
 * The configuration with a policy's documents in place of (or beside) the current ones. Every
 * document is validated as the runtime validates it; an invalid one is a ConfigError naming
 * `policy.<kind>[i]` and the field path.
 */
export function applyPolicy(current: RuntimeConfig, policy: PolicyInput): RuntimeConfig {
  const parsed = policySchema.safeParse(policy);
  if (!parsed.success) {
    throw new ConfigError(
      'policy',
      parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  }
  const providers = new Map(current.providers.map((p) => [p.id, p]));
  (parsed.data.providers ?? []).forEach((doc, i) => {
    refuseUnknownFields(doc, providerSchema.shape, `policy.providers[${i}]`);
    const p = parseIn(providerSchema, `policy.providers[${i}]`, over(providers, doc));
    providers.set(p.id, p);
  });
  const categories = new Map(current.categories.map((c) => [c.id, c]));
  (parsed.data.categories ?? []).forEach((doc, i) => {
    refuseUnknownFields(doc, CATEGORY_FIELDS, `policy.categories[${i}]`);
    const c = parseIn(categorySchema, `policy.categories[${i}]`, over(categories, doc));
    categories.set(c.id, c);
  });
  // Strict: an unknown flag is refused by name (policy.flags.<key>), not dropped.
  const flags: Flags = parsed.data.flags
    ? parseIn(strictFlagsSchema, 'policy.flags', { ...current.flags, ...parsed.data.flags })
    : current.flags;
  return validateRuntimeConfig({
    providers: [...providers.values()],
    categories: [...categories.values()],
    flags,
  });
}

/**
 * A category document's fields: its schema's, and what Tollgate writes beside them (a paused
 * category remembers the collections it paused), so a stored document pasted into a policy
 * passes.
 */
const CATEGORY_FIELDS = { ...categorySchema.shape, pausedCollections: true };

/**
 * A field the document's schema does not know is refused by name (policy.categories[0].sharePercnt),
 * not dropped: a misspelt change would otherwise replay as no change. Only the policy's own
 * top-level fields are checked (not those of the stored document it goes over, nor a limit's).
 */
function refuseUnknownFields(doc: unknown, shape: object, document: string): void {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return;
  const unknown = Object.keys(doc).filter((key) => !Object.hasOwn(shape, key));
  if (unknown.length > 0) {
    throw new ConfigError(
      document,
      unknown.map((key) => ({ path: formatPath([key]), message: 'unknown field' })),
    );
  }
}

/** A policy document's fields over the current document of the same id (if any). */
function over(current: Map<string, object>, doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  const id = (doc as { id?: unknown }).id;
  const base = typeof id === 'string' ? current.get(id) : undefined;
  return base ? { ...base, ...doc } : doc;
}

const strictFlagsSchema = z.strictObject(flagsSchema.shape);

function parseIn<T extends z.ZodType>(schema: T, document: string, data: unknown): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new ConfigError(
    document,
    result.error.issues.flatMap((i) =>
      // An unknown key is named by its own path (policy.flags.typo), one issue each.
      i.code === 'unrecognized_keys'
        ? i.keys.map((key) => ({ path: formatPath([...i.path, key]), message: 'unknown field' }))
        : [{ path: formatPath(i.path), message: i.message }],
    ),
  );
}
