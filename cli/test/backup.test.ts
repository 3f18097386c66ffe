import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Timestamp } from 'firebase-admin/firestore';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKUP_COLLECTIONS,
  exportBackup,
} from '../../functions/src/adapters/backup/backup-export.ts';
import { serializeBackup } from '../../functions/src/core/backup/backup-create.ts';
import {
  type ApiFixture,
  apiFixture,
  auditEntries,
  quickSnapshot,
  recordWrites,
  T0,
} from '../../functions/test/api/support.ts';
import { ACTOR_EMAIL, cli, RecordedProgress } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let source: ApiFixture;
let target: ApiFixture;

beforeEach(async () => {
  source = await apiFixture();
  // Values the JSON model must carry exactly: a reference, a timestamp, bytes, a nested map.
  await source.db.doc('cooldownHistory/manual-1').set({
    ref: source.db.doc('providers/keepa'),
    at: Timestamp.fromMillis(T0 + 123),
    bytes: Buffer.from([0, 1, 255]),
    nested: { list: [1, 'two', null] },
  });
  target = await apiFixture({ seed: false });
});
afterEach(async () => {
  await source.close();
  await target.close();
});

/** The documents of the backed-up collections, as data (update times differ by design). */
async function backedUp(fixture: ApiFixture) {
  const out: Record<string, unknown> = {};
  for (const name of BACKUP_COLLECTIONS) {
    for (const doc of (await fixture.db.collection(name).get()).docs) {
      const data = doc.data();
      if (data.ref) data.ref = data.ref.path;
      out[doc.ref.path] = data;
    }
  }
  return out;
}

async function exported(name: string): Promise<string> {
  const file = join(dir, name);
  const run = await cli(source, ['export', '--out', file]);
  expect(run.code).toBe(0);
  return file;
}

describe('export and import', () => {
  it('round-trips configuration and state, auditing the import as the CLI', async () => {
    const progress = new RecordedProgress();
    const file = join(dir, 'round-trip.json');
    const out = await cli(source, ['export', '--out', file], { progress });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('checksum');
    const direct = await exportBackup(source.db, { projectId: 'demo-cli-test', now: () => T0 });
    const documents = Object.keys(direct.documents).length;
    expect(progress.bars).toEqual([
      { label: 'export', total: documents, value: documents, stopped: true },
    ]);
    // The same file a single exportBackup of every collection writes, read a page at a time.
    expect(readFileSync(file, 'utf8')).toBe(serializeBackup(direct));
    expect(existsSync(`${file}.partial`)).toBe(false);
    // The export is audited, as the principal signed in.
    const [exportEntry] = (await auditEntries(source.db)).filter((e) => e.what === 'exportBackup');
    expect(exportEntry).toMatchObject({
      who: { uid: 'cli', email: ACTOR_EMAIL, role: 'admin' },
      target: 'cli:round-trip.json',
      after: { checksum: direct.checksum, documents },
    });

    const imported = await cli(target, ['--json', 'import', file], { progress });
    expect(imported.code).toBe(0);
    const result = JSON.parse(imported.stdout);
    expect(result).toMatchObject({ dryRun: false, checksum: direct.checksum });
    expect(result.written).toBe(result.documents);
    expect(result.documents).toBe(Object.keys(direct.documents).length);

    const entries = (await auditEntries(target.db)).filter((e) => e.what === 'importBackup');
    expect(entries.map((e) => e.id).sort()).toEqual([...result.auditIds].sort());
    expect(entries[0]).toMatchObject({
      who: { uid: 'cli', email: ACTOR_EMAIL, role: 'admin' },
      target: `backups/${direct.checksum}`,
    });
    // Everything in the source is in the target; the target also has the import's entries.
    const after = await backedUp(target);
    for (const id of result.auditIds) delete after[`auditLog/${id}`];
    expect(after).toEqual(await backedUp(source));
    // --json draws no bars; the export above drew the only one.
    expect(progress.bars).toHaveLength(1);
  });

  it('counts the import in its progress bar', async () => {
    const file = await exported('progress.json');
    const progress = new RecordedProgress();
    const run = await cli(target, ['import', file], { progress });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('written');
    const [bar] = progress.bars;
    expect(bar).toMatchObject({ label: 'import', stopped: true });
    expect(bar!.value).toBe(bar!.total);
    expect(bar!.total).toBeGreaterThan(5);
  });

  it('writes the backup to stdout without --out', async () => {
    const run = await cli(source, ['--json', 'export']);
    expect(run.code).toBe(0);
    const direct = await exportBackup(source.db, { projectId: 'demo-cli-test', now: () => T0 });
    expect(run.stdout).toBe(serializeBackup(direct));
    expect(run.stderr).toBe('');
  });

  it('verifies without writing on --dry-run', async () => {
    const file = await exported('dry.json');
    const log = recordWrites(target.db);
    try {
      const run = await cli(target, ['--json', 'import', file, '--dry-run']);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ dryRun: true, written: 0 });
      expect(log.paths()).toEqual([]);
    } finally {
      log.stop();
    }
  });

  it.each([
    ['truncated', (text: string) => text.slice(0, Math.floor(text.length / 2)), 'truncated'],
    ['empty', () => '', 'truncated'],
    ['a changed value', (text: string) => text.replace('"keepa"', '"keepb"'), 'checksum'],
    ['not JSON', (text: string) => `x${text.slice(1)}`, 'corrupt'],
    ['reformatted', (text: string) => JSON.stringify(JSON.parse(text), null, 2), 'noncanonical'],
  ])('refuses a %s file and changes nothing', async (_what, corrupt, kind) => {
    const file = await exported('good.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, corrupt(readFileSync(file, 'utf8')));
    const before = await quickSnapshot(target.db);
    const log = recordWrites(target.db);
    try {
      const run = await cli(target, ['import', bad]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`error (backup-refused): backup refused (${kind})`);
      expect(log.paths()).toEqual([]);
    } finally {
      log.stop();
    }
    expect(await quickSnapshot(target.db)).toEqual(before);
  });

  it('reports a missing file as an error (exit 1)', async () => {
    const run = await cli(target, ['import', join(dir, 'missing.json')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ENOENT');
  });
});
