import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { type Firestore, Query, type QuerySnapshot } from 'firebase-admin/firestore';
import {
  BACKUP_COLLECTIONS,
  type BackupTarget,
  type StreamedBackup,
  streamBackup,
} from '../../functions/src/adapters/backup/backup-export.ts';
import type { ImportResult } from '../../functions/src/adapters/backup/backup-import.ts';
import { writeAudit } from '../../functions/src/adapters/operations/audit.ts';
import { importWithAudit as restore } from '../../functions/src/adapters/operations/backups.ts';
import { storedCount } from '../../functions/src/adapters/pipeline/product-count.ts';
import { PRODUCTS_PATH } from '../../functions/src/adapters/pipeline/product-documents.ts';
import { productsInDocument } from '../../functions/src/adapters/pipeline/product-pages.ts';
import type { Actor } from '../../functions/src/core/operations/index.ts';
import type { Progress, Stream } from './output.ts';

/** The long jobs, with progress: backup export and import, and a validation run's reads. */

export interface CliExportResult extends StreamedBackup {
  /** The file written, or null for stdout. */
  out: string | null;
  /** The export's audit entry. */
  auditId: string;
}

/** A stream that hands text to `stream.write` (stdout), never splitting a character. */
function textSink(stream: Stream): Writable {
  const decoder = new StringDecoder('utf8');
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = decoder.write(chunk);
      if (text) stream.write(text);
      done();
    },
    final(done) {
      const rest = decoder.end();
      if (rest) stream.write(rest);
      done();
    },
  });
}

/**
 * Exports the backed-up collections (adapters/backup/backup-export.ts streamBackup) to a local
 * file, or to `stdout` when `out` is null: a page of documents at a time, the same bytes as a
 * single exportBackup would write. The documents' text is spooled to a temporary file while the
 * checksum is computed; a file is written aside (`.partial`) and renamed over `out` once
 * complete, so it is whole or absent. Audited as the callable audits its exports.
 */
export async function exportWithProgress(
  db: Firestore,
  options: {
    projectId: string;
    now: () => number;
    progress: Progress;
    actor: Actor;
    out: string | null;
    stdout: Stream;
  },
): Promise<CliExportResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-export-'));
  const spool = join(dir, 'documents.spool');
  const partial = options.out === null ? null : `${options.out}.partial`;
  const bar = options.progress.start('export', 0);
  const target: BackupTarget = {
    openSpool: () => createWriteStream(spool),
    readSpool: () => createReadStream(spool),
    openFile: () => (partial === null ? textSink(options.stdout) : createWriteStream(partial)),
    cleanup: async (failed) => {
      await rm(dir, { recursive: true, force: true });
      if (failed && partial !== null) await rm(partial, { force: true });
    },
  };
  let exported: StreamedBackup;
  try {
    exported = await streamBackup(db, target, {
      collections: BACKUP_COLLECTIONS,
      projectId: options.projectId,
      now: options.now,
      onListed: (n) => bar.setTotal(n),
      onPage: (n) => bar.increment(n),
    });
  } finally {
    bar.stop();
  }
  if (partial !== null && options.out !== null) await rename(partial, options.out);
  const batch = db.batch();
  const auditId = writeAudit(db, batch, {
    who: options.actor,
    what: 'exportBackup',
    target: options.out === null ? 'cli:stdout' : `cli:${basename(options.out)}`,
    before: null,
    after: {
      out: options.out,
      sha256: exported.sha256,
      bytes: exported.bytes,
      checksum: exported.checksum,
      createdAt: exported.createdAt,
      collections: exported.collections,
      documents: exported.documents,
      byCollection: exported.byCollection,
    },
    atMs: options.now(),
  });
  await batch.commit();
  return { ...exported, out: options.out, auditId };
}

export interface CliImportResult extends ImportResult {
  /** One audit entry per batch written (none on a dry run). */
  auditIds: string[];
}

/**
 * Restores a file as the importBackup callable does (operations/backups.ts importWithAudit):
 * the whole file, its documents and the configuration it would leave are checked first, so a
 * truncated, corrupted or hostile file is refused before anything changes; then each batch
 * commits with its own `importBackup` audit entry (the backup, and each document's digest
 * before and after; configuration by value).
 */
export async function importWithAudit(
  db: Firestore,
  file: Uint8Array,
  options: { dryRun: boolean; actor: Actor; now: () => number; progress: Progress },
): Promise<CliImportResult> {
  if (options.dryRun) return restore(db, options, file, { dryRun: true });
  const bar = options.progress.start('import', 0);
  try {
    return await restore(db, options, file, {
      onPrepared: (documents) => bar.setTotal(documents),
      onAudit: (_id, documents) => bar.increment(documents),
    });
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
            const snapshot = await (value as (...a: unknown[]) => Promise<QuerySnapshot>).apply(
              target,
              args,
            );
            // A page document holds several products.
            if (paged)
              onPage(snapshot.docs.reduce((n, doc) => n + productsInDocument(doc.data()), 0));
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
  return storedCount(db);
}
