import type { Firestore } from 'firebase-admin/firestore';
import {
  type Category,
  categorySchema,
  flagsSchema,
  type Provider,
  parseDocument,
  providerSchema,
  type RuntimeConfig,
  validateRuntimeConfig,
} from '../core/config';
// Sets the upstream URL rules every provider parse applies (production or emulated).
import './emulation';

export const CONFIG_PATHS = {
  providers: 'providers',
  categories: 'categories',
  flags: 'config/flags',
} as const;

/**
 * Reads the runtime configuration from Firestore and validates every document on read.
 * The document id is the entity id, so `id` may be omitted from the stored fields.
 */
export async function loadRuntimeConfig(db: Firestore): Promise<RuntimeConfig> {
  const [providers, categories, flags] = await Promise.all([
    db.collection(CONFIG_PATHS.providers).get(),
    db.collection(CONFIG_PATHS.categories).get(),
    db.doc(CONFIG_PATHS.flags).get(),
  ]);
  return validateRuntimeConfig({
    providers: providers.docs.map(
      (doc): Provider =>
        parseDocument(providerSchema, `providers/${doc.id}`, { id: doc.id, ...doc.data() }),
    ),
    categories: categories.docs.map(
      (doc): Category =>
        parseDocument(categorySchema, `categories/${doc.id}`, { id: doc.id, ...doc.data() }),
    ),
    flags: parseDocument(flagsSchema, CONFIG_PATHS.flags, flags.data() ?? {}),
  });
}
