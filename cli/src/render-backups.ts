import type { ImportResult } from '../../functions/src/adapters/backup/backup-import.ts';
import { pairs, table } from './output.ts';

/** Human renderings of a backup's export and import; `--json` prints the answer itself. */

export function renderExport(r: {
  out: string | null;
  documents: number;
  byCollection: Record<string, number>;
  checksum: string;
  sha256: string;
  bytes: number;
  auditId: string;
}): string {
  return `${pairs([
    ['written to', r.out ?? 'stdout'],
    ['documents', r.documents],
    ['bytes', r.bytes],
    ['checksum', r.checksum],
    ['file sha256', r.sha256],
    ['audit entry', r.auditId],
  ])}\n${table(
    ['collection', 'documents'],
    Object.entries(r.byCollection).map(([k, v]) => [k, v]),
  )}`;
}

export function renderImport(r: ImportResult & { auditIds: string[] }): string {
  return `${pairs([
    ['dry run', r.dryRun],
    ['from project', r.projectId],
    ['taken at', r.createdAt],
    ['checksum', r.checksum],
    ['documents', r.documents],
    ['written', r.written],
    ['audit entries', r.auditIds.length],
  ])}\n${table(
    ['collection', 'documents'],
    Object.entries(r.byCollection).map(([k, v]) => [k, v]),
  )}`;
}
