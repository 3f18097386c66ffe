import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackupBuilder, createBackup, serializeBackup } from '../../src/core/backup/backup-create';
import { BackupError } from '../../src/core/backup/backup-file';
import { verifyBackup } from '../../src/core/backup/backup-verify';
import { documentSets } from '../backup/arbitraries';

const CREATED_AT = Date.UTC(2026, 0, 1);

function backupText(documents: Parameters<typeof createBackup>[0]['documents']) {
  return serializeBackup(createBackup({ createdAt: CREATED_AT, projectId: 'demo-p', documents }));
}

function refused(text: string): boolean {
  try {
    verifyBackup(text);
    return false;
  } catch (error) {
    if (error instanceof BackupError) return true;
    throw error;
  }
}

/** Characters that matter to JSON, plus any character at all. */
const replacement = fc.oneof(
  fc.constantFrom(...'{}[]":,\\/0123456789eE+-.tfnulra$ \n\t'.split('')),
  fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
);

describe('backup (property)', () => {
  it('random document sets round-trip through the file', () => {
    fc.assert(
      fc.property(documentSets(), (documents) => {
        const verified = verifyBackup(backupText(documents));
        expect(verified.documents).toEqual(documents);
        expect(Object.keys(verified.documents).sort()).toEqual(Object.keys(documents).sort());
      }),
      { numRuns: 300 },
    );
  });

  it('any single-character change of the file is refused', () => {
    fc.assert(
      fc.property(documentSets(), fc.nat(), replacement, (documents, at, char) => {
        const text = backupText(documents);
        const i = at % text.length;
        fc.pre(text[i] !== char);
        expect(refused(text.slice(0, i) + char + text.slice(i + 1))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('any inserted character, and any deleted one but the final newline, is refused', () => {
    fc.assert(
      fc.property(documentSets(), fc.nat(), replacement, (documents, at, char) => {
        const text = backupText(documents);
        const insertAt = at % (text.length + 1);
        expect(refused(text.slice(0, insertAt) + char + text.slice(insertAt))).toBe(true);
        const deleteAt = at % (text.length - 1);
        expect(refused(text.slice(0, deleteAt) + text.slice(deleteAt + 1))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a backup built a document at a time is the file createBackup writes', () => {
    fc.assert(
      fc.property(documentSets(), (documents) => {
        const builder = new BackupBuilder({ createdAt: CREATED_AT, projectId: 'demo-p' });
        let body = '';
        for (const path of Object.keys(documents).sort()) {
          body += builder.document(path, documents[path]!);
        }
        const { head, tail, checksum } = builder.finish();
        const text = backupText(documents);
        expect(head + body + tail).toBe(text);
        expect(verifyBackup(text).checksum).toBe(checksum);
      }),
      { numRuns: 300 },
    );
  });

  it('the builder refuses documents out of order or twice', () => {
    const builder = new BackupBuilder({ createdAt: CREATED_AT, projectId: 'demo-p' });
    builder.document('a/b', {});
    expect(() => builder.document('a/b', {})).toThrow(RangeError);
    // '-' sorts before '/': in the file, a-x/y comes before a/b.
    expect(() => builder.document('a-x/y', {})).toThrow(RangeError);
    builder.document('a/c', {});
    builder.finish();
    expect(() => builder.finish()).toThrow();
  });
});
