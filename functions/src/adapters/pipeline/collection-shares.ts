import type { Firestore, Transaction } from 'firebase-admin/firestore';
import {
  type Category,
  ConfigError,
  flagsSchema,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../core/config';
import type { PhaseTransition } from '../../core/pipeline/collections';
import {
  applyShareChanges,
  redistributeShare,
  type ShareChange,
} from '../../core/pipeline/share-transition';
import { CONFIG_PATHS } from '../config-repository';
import { parseCategory } from './collection-documents';

/** A phase transition's share change, in the collection's transaction, and its republication. */

/**
 * Sets the category's share for the new phase, redistributing what it frees to the
 * provider's other categories, and checks the provider's shares stay valid. Reads the
 * provider and its categories in the transaction, so concurrent transitions serialize.
 */
export async function applyTransition(
  db: Firestore,
  tx: Transaction,
  t: PhaseTransition,
): Promise<ShareChange[]> {
  const providerSnapshot = await tx.get(db.doc(`${CONFIG_PATHS.providers}/${t.provider}`));
  const categories = (await tx.get(providerCategoriesQuery(db, t.provider))).docs.map((doc) =>
    parseCategory(doc.id, doc.data()),
  );
  if (!categories.some((c) => c.id === t.category)) {
    throw new ConfigError(`${CONFIG_PATHS.categories}/${t.category}`, [
      { path: '', message: `missing, or not a category of "${t.provider}"` },
    ]);
  }
  const changes = redistributeShare(categories, t.category, t.sharePercent);
  if (changes.length === 0) return [];
  const updated = applyShareChanges(categories, changes);
  const provider = providerSnapshot.exists
    ? [
        parseDocument(providerSchema, `${CONFIG_PATHS.providers}/${t.provider}`, {
          id: t.provider,
          ...providerSnapshot.data(),
        }),
      ]
    : [];
  validateRuntimeConfig({
    providers: provider,
    categories: updated,
    flags: flagsSchema.parse({}),
  });
  for (const change of changes) {
    tx.update(db.doc(`${CONFIG_PATHS.categories}/${change.category}`), {
      sharePercent: change.toPercent,
    });
  }
  return changes;
}

export function providerCategoriesQuery(db: Firestore, provider: string) {
  return db.collection(CONFIG_PATHS.categories).where('provider', '==', provider);
}

export async function providerCategories(db: Firestore, provider: string): Promise<Category[]> {
  const snapshot = await providerCategoriesQuery(db, provider).get();
  return snapshot.docs.map((doc) => parseCategory(doc.id, doc.data()));
}
