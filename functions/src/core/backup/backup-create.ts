import { createHash } from 'node:crypto';
import { fieldNameProblem } from '../storage/firestore-names';
import { define, encodeValue, fieldWhere } from './backup-encoding';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupFile,
  backupChecksum,
  CHECKSUM_PREFIX,
  canonicalJson,
  documentPathProblem,
} from './backup-file';
import type { BackupDocuments, BackupMap, EncodedValue } from './backup-value-model';

/** Writing backups: a whole file at once, or piece by piece for exports too large to hold. */

/** One document's fields, encoded; throws a TypeError naming the path and field. */
function encodeDocument(path: string, data: BackupMap): Record<string, EncodedValue> {
  const problem = documentPathProblem(path);
  if (problem) throw new TypeError(`document "${path}": ${problem}`);
  const where = `documents[${JSON.stringify(path)}]`;
  const encoded: Record<string, EncodedValue> = {};
  for (const key of Object.keys(data)) {
    const fieldProblem = fieldNameProblem(key);
    if (fieldProblem) throw new TypeError(`${where}: ${fieldProblem}`);
    define(encoded, key, encodeValue(data[key]!, fieldWhere(where, key)));
  }
  return encoded;
}

export function createBackup(input: {
  createdAt: Date | number;
  projectId: string;
  documents: BackupDocuments;
}): BackupFile {
  const documents: Record<string, Record<string, EncodedValue>> = {};
  for (const path of Object.keys(input.documents).sort()) {
    define(documents, path, encodeDocument(path, input.documents[path]!));
  }
  const content = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: new Date(input.createdAt).toISOString(),
    projectId: input.projectId,
    documents,
  } as const;
  return { ...content, checksum: backupChecksum(content) };
}

/**
 * A backup file written piece by piece, for exports that do not hold every document in memory:
 * exactly the text `serializeBackup(createBackup(...))` gives for the same documents. Documents
 * come one at a time in code-unit order of their paths (the canonical order); each call answers
 * the text to append. The checksum precedes the documents in the file, so the documents' text
 * is kept aside (a temporary object or file) and the file is `head`, that text, then `tail`:
 *
 *     const builder = new BackupBuilder({ createdAt, projectId });
 *     for (const [path, data] of sorted) spool.write(builder.document(path, data));
 *     const { head, tail, checksum } = builder.finish();
 *     file = head + spooled + tail;
 */
export class BackupBuilder {
  readonly createdAt: string;
  readonly projectId: string;
  private readonly hash = createHash('sha256');
  private last: string | undefined;
  private count = 0;
  private done = false;

  constructor(input: { createdAt: Date | number; projectId: string }) {
    this.createdAt = new Date(input.createdAt).toISOString();
    this.projectId = input.projectId;
    this.hash.update(this.contentHead(), 'utf8');
  }

  /** Documents added so far. */
  get documents(): number {
    return this.count;
  }

  /** The canonical JSON of everything but the checksum, up to the first document. */
  private contentHead(): string {
    return `{"createdAt":${JSON.stringify(this.createdAt)},"documents":{`;
  }

  /**
   * The text of one more document (with the comma before it). Paths must increase in
   * code-unit order (`Array.prototype.sort`'s); a repeated or earlier path is a RangeError.
   */
  document(path: string, data: BackupMap): string {
    if (this.done) throw new Error('the backup is finished');
    if (this.last !== undefined && !(this.last < path)) {
      throw new RangeError(`document "${path}" comes after "${this.last}": paths must be sorted`);
    }
    const text = `${this.count === 0 ? '' : ','}${JSON.stringify(path)}:${canonicalJson(encodeDocument(path, data))}`;
    this.hash.update(text, 'utf8');
    this.last = path;
    this.count++;
    return text;
  }

  /** The checksum, and the file's text before and after the documents' text (with its newline). */
  finish(): { checksum: string; head: string; tail: string } {
    if (this.done) throw new Error('the backup is finished');
    this.done = true;
    const tail = `},"format":${JSON.stringify(BACKUP_FORMAT)},"projectId":${JSON.stringify(this.projectId)},"version":${BACKUP_VERSION}}`;
    this.hash.update(tail, 'utf8');
    const checksum = CHECKSUM_PREFIX + this.hash.digest('hex');
    const head = `{"checksum":${JSON.stringify(checksum)},${this.contentHead().slice(1)}`;
    return { checksum, head, tail: `${tail}\n` };
  }
}

/**
 * `sha256:` over one document's canonical encoding: equal for equal documents whatever their
 * field order (a restore's audit entry compares what was stored with what it wrote).
 */
export function documentChecksum(path: string, data: BackupMap): string {
  const canonical = canonicalJson(encodeDocument(path, data));
  return CHECKSUM_PREFIX + createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** The file's text: canonical JSON and a newline. */
export function serializeBackup(file: BackupFile): string {
  return `${canonicalJson(file)}\n`;
}
