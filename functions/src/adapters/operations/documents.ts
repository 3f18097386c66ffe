import type { DocumentSnapshot, Firestore, Transaction } from 'firebase-admin/firestore';
import {
  type Category,
  ConfigError,
  categorySchema,
  flagsSchema,
  type Provider,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../core/config';
import { failedPrecondition, notFound } from '../../core/operations';
import { CONFIG_PATHS } from '../config-repository';

/** Reading and parsing configuration documents inside an operation's transaction. */

export function categoryPath(id: string): string {
  return `${CONFIG_PATHS.categories}/${id}`;
}

export function providerPath(id: string): string {
  return `${CONFIG_PATHS.providers}/${id}`;
}

export function parseCategory(snapshot: DocumentSnapshot): Category {
  return parseDocument(categorySchema, categoryPath(snapshot.id), {
    id: snapshot.id,
    ...snapshot.data(),
  });
}

export function parseProvider(snapshot: DocumentSnapshot): Provider {
  return parseDocument(providerSchema, providerPath(snapshot.id), {
    id: snapshot.id,
    ...snapshot.data(),
  });
}

/** The category, or not-found. */
export async function readCategory(
  db: Firestore,
  tx: Transaction,
  id: string,
): Promise<{ category: Category; snapshot: DocumentSnapshot }> {
  const snapshot = await tx.get(db.doc(categoryPath(id)));
  if (!snapshot.exists) throw notFound('category', id, categoryPath(id));
  return { category: parseCategory(snapshot), snapshot };
}

/** The provider, or undefined. */
export async function readProvider(
  db: Firestore,
  tx: Transaction,
  id: string,
): Promise<Provider | undefined> {
  const snapshot = await tx.get(db.doc(providerPath(id)));
  return snapshot.exists ? parseProvider(snapshot) : undefined;
}

/** Every category of a provider, read in the transaction so concurrent changes serialize. */
export async function readProviderCategories(
  db: Firestore,
  tx: Transaction,
  provider: string,
): Promise<Category[]> {
  const snapshot = await tx.get(
    db.collection(CONFIG_PATHS.categories).where('provider', '==', provider),
  );
  return snapshot.docs.map(parseCategory);
}

const DEFAULT_FLAGS = flagsSchema.parse({});

/**
 * The provider's categories after a change must fit in 100% (counted as validateRuntimeConfig
 * counts them: paused 0, pinned the larger of share and override); otherwise the change is
 * refused with failed-precondition naming the category where the sum went over.
 */
export function checkProviderShares(provider: Provider, categories: Category[]): void {
  try {
    validateRuntimeConfig({ providers: [provider], categories, flags: DEFAULT_FLAGS });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw failedPrecondition(error.issues.map((i) => i.message).join('; '), {
      document: error.document,
      issues: error.issues,
    });
  }
}
