import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveWorkspaceLock, functionsLock } from '../../../devstack/src/deploy/functions-lock.ts';
import {
  type Lockfile,
  LockfileError,
  resolveIn,
} from '../../../devstack/src/deploy/lockfile-resolution.ts';

/** JSON with every object's keys sorted. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  ) ?? 'undefined';

const functionsDir = join(__dirname, '..', '..');
const root = join(functionsDir, '..');
const committed = join(functionsDir, 'package-lock.json');

/**
 * The functions deploy alone, and Cloud Build installs them with `npm ci` from
 * functions/package-lock.json: the deployed versions are the tested ones only if that file is
 * the functions workspace's part of the root lockfile, which the tests run on.
 */
describe('functions/package-lock.json', () => {
  // Derived on first use, so a root lockfile out of step with functions/package.json fails a
  // test with the reason rather than the whole file.
  let cached: ReturnType<typeof functionsLock> | undefined;
  const derived = () => {
    cached ??= functionsLock(root);
    return cached;
  };

  it('is the functions workspace part of the root lockfile (`npm run lock:functions`)', () => {
    expect(existsSync(committed)).toBe(true);
    // Stale after a dependency change in functions/package.json (and `npm install`) until the
    // script runs again: the entries that differ, then the text as npm would write it.
    const lock = JSON.parse(readFileSync(committed, 'utf8')) as Lockfile;
    const want = derived().lock;
    const differences = [...new Set([...Object.keys(lock.packages), ...Object.keys(want.packages)])]
      .filter((k) => canonical(lock.packages[k]) !== canonical(want.packages[k]))
      .map(
        (k) =>
          `${k || '(project)'}: ${lock.packages[k]?.version ?? 'absent'} -> ${want.packages[k]?.version ?? 'absent'}`,
      );
    expect(differences, 'stale: run `npm run lock:functions`').toEqual([]);
    expect(readFileSync(committed, 'utf8')).toBe(derived().text);
  });

  it('pins each dependency of functions/package.json at the version the root install has', () => {
    const manifest = JSON.parse(readFileSync(join(functionsDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const { lock, root: rootLock } = derived();
    expect(lock.packages['']?.dependencies).toEqual(manifest.dependencies);
    for (const name of Object.keys(manifest.dependencies)) {
      const inRoot = resolveIn(rootLock.packages, 'functions', name)!;
      expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(
        rootLock.packages[inRoot]?.version,
      );
    }
  });

  it('names exactly the packages installed for the tests, at their installed versions', () => {
    // What the tests load is node_modules as installed from the root lockfile: each package of
    // the functions lockfile is there (functions/node_modules entries first), at its version.
    for (const [location, entry] of Object.entries(derived().lock.packages)) {
      if (location === '') continue;
      const installedAt = [join(functionsDir, location), join(root, location)].find((dir) =>
        existsSync(join(dir, 'package.json')),
      );
      if (!installedAt) {
        // Only an optional package for another platform may be missing.
        expect(entry.optional === true && (entry.os !== undefined || entry.cpu !== undefined)).toBe(
          true,
        );
        continue;
      }
      const installed = JSON.parse(readFileSync(join(installedAt, 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(installed.version, location).toBe(entry.version);
    }
  });

  it('is what `npm ci` installs from, with functions/package.json, unchanged by npm', () => {
    const npm = process.env.npm_execpath;
    if (!npm?.endsWith('.js')) return; // only when run through npm/npx, which say where npm is
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
    try {
      copyFileSync(join(functionsDir, 'package.json'), join(dir, 'package.json'));
      copyFileSync(committed, join(dir, 'package-lock.json'));
      const env = {
        ...process.env,
        npm_config_update_notifier: 'false',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_engine_strict: 'false',
      };
      const run = (...args: string[]) =>
        execFileSync(process.execPath, [npm, ...args, '--offline', '--ignore-scripts'], {
          cwd: dir,
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      // `npm ci` refuses a lockfile out of step with package.json; a dry run installs nothing.
      expect(run('ci', '--dry-run')).toMatch(/added \d+ packages/);
      // npm rewrites a lockfile it would lay out or flag differently: this one it leaves as is.
      run('install', '--package-lock-only');
      expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(
        readFileSync(committed, 'utf8'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('is checked before every deploy', () => {
    const firebase = JSON.parse(readFileSync(join(root, 'firebase.json'), 'utf8')) as {
      functions: Array<{ predeploy?: string[] }>;
    };
    expect(firebase.functions[0]!.predeploy?.[0]).toMatch(/run lock:functions -- --check$/);
  });
});

describe('deriving a workspace lockfile', () => {
  const entry = (version: string, more: Record<string, unknown> = {}) => ({
    version,
    integrity: `sha512-${version}`,
    ...more,
  });
  const rootLock = (): Lockfile => ({
    name: 'project',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'project', workspaces: ['ws'], devDependencies: { tool: '^1.0.0' } },
      ws: { name: 'ws', version: '1.0.0', dependencies: { a: '^1.0.0' } },
      'node_modules/ws': { resolved: 'ws', link: true },
      'node_modules/a': entry('1.2.0', {
        dependencies: { b: '^2.0.0' },
        optionalDependencies: { c: '^1.0.0', missing: '^1.0.0' },
      }),
      'node_modules/a/node_modules/b': entry('2.1.0'),
      'node_modules/b': entry('1.0.0', { dev: true }),
      'node_modules/c': entry('1.0.0', { optional: true, dependencies: { b: '^1.0.0' } }),
      'node_modules/tool': entry('1.0.0', { dev: true, dependencies: { b: '^1.0.0' } }),
    },
  });

  it('keeps what the workspace reaches, where the root install put it, with its own flags', () => {
    const lock = deriveWorkspaceLock(rootLock(), 'ws', {
      name: 'ws',
      version: '1.0.0',
      dependencies: { a: '^1.0.0' },
    });
    expect(lock.packages).toEqual({
      '': { name: 'ws', version: '1.0.0', dependencies: { a: '^1.0.0' } },
      'node_modules/a': rootLock().packages['node_modules/a'],
      'node_modules/a/node_modules/b': entry('2.1.0'),
      // Reached only through an optional dependency here, where the root saw a dev tool's.
      'node_modules/b': entry('1.0.0', { optional: true }),
      'node_modules/c': entry('1.0.0', { optional: true, dependencies: { b: '^1.0.0' } }),
    });
  });

  it('refuses a functions/package.json the root lockfile was not installed from', () => {
    expect(() =>
      deriveWorkspaceLock(rootLock(), 'ws', {
        name: 'ws',
        version: '1.0.0',
        dependencies: { a: '^1.3.0' },
      }),
    ).toThrow(LockfileError);
    expect(() =>
      deriveWorkspaceLock(rootLock(), 'ws', {
        name: 'ws',
        dependencies: { a: '^1.0.0', d: '^1.0.0' },
      }),
    ).toThrow(/run npm install/);
  });

  it('refuses a layout that would resolve differently when the workspace is installed alone', () => {
    const lock = rootLock();
    // The workspace has its own `b` (nested under ws/), and `a` needs the root's `b`.
    lock.packages.ws!.dependencies = { a: '^1.0.0', b: '^3.0.0' };
    lock.packages['ws/node_modules/b'] = entry('3.0.0');
    delete lock.packages['node_modules/a/node_modules/b'];
    lock.packages['node_modules/a']!.dependencies = { b: '^1.0.0' };
    expect(() =>
      deriveWorkspaceLock(lock, 'ws', {
        name: 'ws',
        version: '1.0.0',
        dependencies: { a: '^1.0.0', b: '^3.0.0' },
      }),
    ).toThrow(/both land at node_modules\/b/);
  });
});
