import { type Firestore, Query } from 'firebase-admin/firestore';
import {
  BACKUP_COLLECTIONS,
  exportBackup,
  type ImportResult,
  importBackup,
} from '../../functions/src/adapters/backup.ts';
import {
  AUDITED_BATCH_WRITES,
  auditedFirestore,
} from '../../functions/src/adapters/operations/index.ts';
import { PRODUCTS_PATH } from '../../functions/src/adapters/products-repository.ts';
import type { Actor } from '../../functions/src/core/api/index.ts';
import {
  type BackupDocuments,
  type BackupFile,
  createBackup,
  verifyBackup,
} from '../../functions/src/core/backup.ts';
import type { Progress } from './output.ts';

/** The long jobs, with progress: backup export and import, and a validation run's reads. */

/**
 * exportBackup (adapters/backup.ts) one collection at a time, for progress, then one file: the
 * same documents, encoding and checksum as a single exportBackup of every collection.
 */
export async function exportWithProgress(
  db: Firestore,
  options: { projectId: string; now: () => number; progress: Progress },
): Promise<BackupFile> {
  const createdAt = options.now();
  const documents: BackupDocuments = {};
  const bar = options.progress.start('export', BACKUP_COLLECTIONS.length);
  try {
    for (const collection of BACKUP_COLLECTIONS) {
      const part = await exportBackup(db, {
        collections: [collection],
        projectId: options.projectId,
        now: () => createdAt,
      });
      for (const [path, data] of Object.entries(verifyBackup(part).documents)) {
        documents[path] = data;
      }
      bar.increment();
    }
  } finally {
    bar.stop();
  }
  return createBackup({ createdAt, projectId: options.projectId, documents });
}

export interface CliImportResult extends ImportResult {
  /** One audit entry per batch written (none on a dry run). */
  auditIds: string[];
}

/**
 * importBackup (adapters/backup.ts): the whole file is verified first (shape, checksum,
 * canonical text, every value), so a truncated or corrupted file is refused before anything
 * changes. Then the import itself through an audited Firestore:
 * every batch commits with its own `importBackup` audit entry listing the documents it set,
 * as the callables audit their changes.
 */
export async function importWithAudit(
  db: Firestore,
  file: Uint8Array,
  options: { dryRun: boolean; actor: Actor; now: () => number; progress: Progress },
): Promise<CliImportResult> {
  if (options.dryRun) return { ...(await importBackup(db, file, { dryRun: true })), auditIds: [] };
  // Names the file for the bar and the audit; a bad file throws here, before anything is written.
  const checked = verifyBackup(file);
  const auditIds: string[] = [];
  const bar = options.progress.start('import', Object.keys(checked.documents).length);
  let inCommit = 0;
  const audited = auditedFirestore(db, {
    actor: options.actor,
    what: 'importBackup',
    now: options.now,
    describe: (writes) => {
      inCommit = writes.length;
      return {
        target: `backups/${checked.checksum}`,
        before: null,
        after: {
          projectId: checked.projectId,
          createdAt: checked.createdAt,
          documents: writes.map((w) => w.path),
        },
      };
    },
    onAudit: (id) => {
      auditIds.push(id);
      bar.increment(inCommit);
    },
  });
  try {
    const result = await importBackup(audited, file, { batchSize: AUDITED_BATCH_WRITES });
    return { ...result, auditIds };
  } finally {
    bar.stop();
  }
}

/**
 * A Firestore whose product page reads (the validation runner's `where marketplace == m`
 * pages) report how many products they returned, for a validation run's progress. Only reads
 * are observed; everything else is the Firestore itself.
 */
export function observeProductPages(db: Firestore, onPage: (products: number) => void): Firestore {
  const wrapQuery = <Q extends Query>(query: Q, paged: boolean): Q =>
    new Proxy(query, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (prop === 'get') {
          return async (...args: unknown[]) => {
            const snapshot = await (value as (...a: unknown[]) => Promise<{ size: number }>).apply(
              target,
              args,
            );
            if (paged) onPage(snapshot.size);
            return snapshot;
          };
        }
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Query)) return result;
          return wrapQuery(result, paged || (prop === 'where' && args[1] === '=='));
        };
      },
    });
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'collection') {
        return (path: string) => {
          const collection = target.collection(path);
          return path === PRODUCTS_PATH ? wrapQuery(collection, false) : collection;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** How many products a validation run will check. */
export async function productCount(db: Firestore): Promise<number> {
  const snapshot = await db.collection(PRODUCTS_PATH).count().get();
  return snapshot.data().count;
}
