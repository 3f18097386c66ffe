import { z } from 'zod';
import { documentLimitIssues } from '../storage/firestore-limits';
import { formatFieldPath } from '../storage/firestore-names';
import { decodeMap, define, isPlainObject } from './backup-encoding';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  BackupError,
  type BackupFile,
  backupChecksum,
  canonicalJson,
  documentPathProblem,
  topLevelCollection,
  type VerifiedBackup,
} from './backup-file';
import type { BackupDocuments } from './backup-value-model';

/** Verifying a backup: parsed, held to its checksum and canonical text, and decoded. */

const envelopeSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  createdAt: z.iso.datetime(),
  projectId: z.string().min(1),
  documents: z.record(z.string(), z.record(z.string(), z.unknown())),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256: and 64 lowercase hex digits'),
});

function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // A multi-byte character cut at the end is a truncation; anywhere else, corruption.
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    } catch {
      throw new BackupError('corrupt', 'the file is not valid UTF-8');
    }
    throw new BackupError('truncated', 'the file ends in the middle of a character');
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw new BackupError('truncated', 'the file is empty');
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    const atEnd =
      /end of JSON input/i.test(message) ||
      (position !== null && Number(position[1]) >= text.trimEnd().length);
    throw atEnd
      ? new BackupError('truncated', `the file ends early (${message})`)
      : new BackupError('corrupt', `the file is not valid JSON (${message})`);
  }
}

function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((p, i) =>
      typeof p === 'number'
        ? `[${p}]`
        : i > 0 && path[0] === 'documents'
          ? `[${JSON.stringify(String(p))}]`
          : `${i === 0 ? '' : '.'}${String(p)}`,
    )
    .join('');
}

/**
 * Verifies a backup given as text, bytes (a file's content) or an already parsed object, and
 * decodes it. Throws BackupError naming what is wrong: truncated or corrupt file, wrong shape,
 * unsupported version, checksum mismatch, or (text only, unless `requireCanonical` is false)
 * text changed without changing the content.
 */
export function verifyBackup(
  input: unknown,
  options: { requireCanonical?: boolean } = {},
): VerifiedBackup {
  let text: string | undefined;
  if (typeof input === 'string') text = input;
  else if (input instanceof Uint8Array) text = decodeText(input);
  const raw = text === undefined ? input : parseJson(text);

  if (!isPlainObject(raw)) throw new BackupError('shape', 'a backup is a JSON object');
  if (raw.format === BACKUP_FORMAT && typeof raw.version === 'number' && raw.version !== 1) {
    throw new BackupError(
      'version',
      `format version ${raw.version} is not supported (this Tollgate reads version ${BACKUP_VERSION})`,
    );
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    const issues = envelope.error.issues.map(
      (issue) => `${formatIssuePath(issue.path) || '(root)'}: ${issue.message}`,
    );
    throw new BackupError('shape', issues.slice(0, 5).join('; '), issues);
  }
  // The raw object, not zod's copy: the checksum covers exactly what the file holds.
  const documents = raw.documents as Record<string, Record<string, unknown>>;
  const { format, version, createdAt, projectId, checksum } = envelope.data;
  let expected: string;
  try {
    expected = backupChecksum({
      format,
      version,
      createdAt,
      projectId,
      documents: documents as BackupFile['documents'],
    });
  } catch (error) {
    // A JSON number beyond the double range (1e999) parses to Infinity.
    throw new BackupError('shape', (error as Error).message);
  }
  if (expected !== checksum) {
    throw new BackupError(
      'checksum',
      `the content does not match its checksum (file says ${checksum}, content is ${expected})`,
    );
  }

  const issues: string[] = [];
  const decoded: BackupDocuments = {};
  const counts: Record<string, number> = {};
  for (const path of Object.keys(documents)) {
    const where = `documents[${JSON.stringify(path)}]`;
    const problem = documentPathProblem(path);
    if (problem) {
      issues.push(`${where}: ${problem}`);
      continue;
    }
    const data = decodeMap(documents[path]!, where, issues);
    define(decoded, path, data);
    // What Firestore would refuse half way through the restore: over-long names, paths and
    // values, a document over 1 MiB (names were checked above, with array positions).
    for (const issue of documentLimitIssues(path, data)) {
      if (issue.kind === 'name') continue;
      const at = issue.field.length ? `${where}.${formatFieldPath(issue.field)}` : where;
      issues.push(`${at}: ${issue.message}`);
    }
    const collection = topLevelCollection(path);
    counts[collection] = (counts[collection] ?? 0) + 1;
  }
  if (issues.length > 0) {
    throw new BackupError(
      'shape',
      `${issues.length} invalid value(s): ${issues.slice(0, 5).join('; ')}`,
      issues,
    );
  }

  if (text !== undefined && (options.requireCanonical ?? true)) {
    const canonical = canonicalJson(raw);
    if (text !== canonical && text !== `${canonical}\n`) {
      throw new BackupError(
        'noncanonical',
        'the file was changed after it was written (its content matches the checksum, but the text is not as Tollgate writes it)',
      );
    }
  }
  return { createdAt, projectId, checksum, documents: decoded, counts };
}
