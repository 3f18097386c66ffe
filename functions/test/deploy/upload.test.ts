import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const functionsDir = join(__dirname, '..', '..');
const root = join(functionsDir, '..');

/** KEY=value lines of a dotenv file (comments and blank lines skipped). */
function dotenv(path: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (match) values.set(match[1]!, match[2]!.trim());
  }
  return values;
}

describe('what a deploy reads and uploads', () => {
  it('has a value in functions/.env for every param the functions declare (no prompt in CI)', () => {
    // The built functions, loaded as the deploy's discovery loads them (`npm test` builds first).
    const declared = JSON.parse(
      execFileSync(
        process.execPath,
        [
          '-e',
          `require('./lib/index.js');
           const { declaredParams } = require('firebase-functions/params');
           console.log(JSON.stringify(declaredParams.map((p) => ({
             name: p.name, secret: p.constructor.name === 'SecretParam' }))));`,
        ],
        { cwd: functionsDir, encoding: 'utf8', env: { ...process.env, GCLOUD_PROJECT: 'demo-x' } },
      )
        .trim()
        .split('\n')
        .at(-1)!,
    ) as Array<{ name: string; secret: boolean }>;
    const values = dotenv(join(functionsDir, '.env'));
    const plain = declared.filter((p) => !p.secret).map((p) => p.name);
    expect(plain).toContain('ENFORCE_APP_CHECK');
    expect(plain.filter((name) => !values.has(name))).toEqual([]);
    // Secrets never live in .env: they come from Secret Manager.
    expect(declared.filter((p) => p.secret && values.has(p.name))).toEqual([]);
    expect(values.get('TOLLGATE_REGION')).toMatch(/^[a-z]+-[a-z]+\d$/);
  });

  it('leaves local secrets, sources, tests, tsconfig files and source maps out of the upload', () => {
    const firebase = JSON.parse(readFileSync(join(root, 'firebase.json'), 'utf8')) as {
      functions: Array<{ ignore: string[] }>;
    };
    const ignore = firebase.functions[0]!.ignore;
    for (const entry of [
      '.secret.local',
      '.env.local',
      'src',
      'test',
      'tsconfig.json',
      'tsconfig.*.json',
      '**/*.map',
      'node_modules',
    ]) {
      expect(ignore).toContain(entry);
    }
  });
});
