import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../functions/test/api/support.ts';
import { testFirestore } from '../../functions/test/support/firestore.ts';

/**
 * The real `tollgate` executable, as `npx tollgate` runs it: node on cli/bin/tollgate.js (tsx
 * compiles the TypeScript), against the embedded Firestore emulator of the test run.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'cli', 'bin', 'tollgate.js');
const run = promisify(execFile);

async function tollgate(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 25_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let fixture: ReturnType<typeof testFirestore>;
let projectId: string;

beforeAll(async () => {
  fixture = testFirestore();
  projectId = fixture.app.options.projectId!;
  await seed(fixture.db);
});
afterAll(() => fixture.close());

describe('the tollgate executable', () => {
  it('prints its usage with --help', async () => {
    const { code, stdout } = await tollgate(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: tollgate');
    for (const command of ['status', 'allocate', 'collect', 'export', 'import']) {
      expect(stdout).toContain(command);
    }
  });

  it('answers status as JSON from the emulator named by FIRESTORE_EMULATOR_HOST', async () => {
    const { code, stdout, stderr } = await tollgate(['--json', '--project', projectId, 'status'], {
      FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST!,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status.projectId).toBe(projectId);
    expect(status.providers.map((p: { id: string }) => p.id)).toEqual(['keepa', 'spapi']);
  });

  it('exits 1 naming the field for invalid input, 2 for a usage error', async () => {
    const env = { FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST! };
    const invalid = await tollgate(['--project', projectId, 'allocate', 'deals', '101'], env);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('sharePercent');
    const usage = await tollgate(['allocate'], env);
    expect(usage.code).toBe(2);
  });

  it('is linked as node_modules/.bin/tollgate, so `npx tollgate` runs it', async () => {
    const { stdout } = await run(join(ROOT, 'node_modules', '.bin', 'tollgate'), ['--help'], {
      cwd: ROOT,
      timeout: 25_000,
    });
    expect(stdout).toContain('Usage: tollgate');
  });
});
