import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dependencyFlags, withFlags } from './dependency-flags.ts';
import {
  type EdgeType,
  edgesOf,
  type LockEntry,
  type Lockfile,
  LockfileError,
  type PackageJson,
  resolveIn,
} from './lockfile-resolution.ts';
import { stringifyLock } from './lockfile-text.ts';
import { verifySameResolution } from './lockfile-verify.ts';

/**
 * functions/package-lock.json, derived from the root package-lock.json without resolving anything.
 *
 * The functions are deployed alone (firebase.json `functions.source`), and Cloud Build's Node.js
 * buildpack runs `npm ci` when a lockfile sits beside package.json; without one it resolves the
 * caret ranges afresh, so the deployed versions would not be the tested ones. The tests run on
 * what the root lockfile installs, so the functions lockfile is the functions workspace's part of
 * it: every package the workspace's dependencies reach (by Node's resolution, from where the root
 * install put them), at the same version and integrity, laid out as they are in the root
 * install, with the dev/optional/peer flags recomputed for a project whose root is the functions
 * workspace (as npm computes them). npm ignores lockfiles inside workspaces, so the nested file
 * changes nothing for the root install.
 */

const DEPENDENCY_FIELDS = [
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'peerDependencies',
] as const;

function sameDependencies(a: Record<string, string> = {}, b: Record<string, string> = {}) {
  const keys = (o: Record<string, string>) => Object.keys(o).sort();
  return (
    JSON.stringify(keys(a)) === JSON.stringify(keys(b)) &&
    Object.keys(a).every((k) => a[k] === b[k])
  );
}

/** Where a package of the workspace's tree goes when the workspace is the project root. */
function relocate(location: string, workspace: string): string {
  return location.startsWith(`${workspace}/node_modules/`)
    ? location.slice(workspace.length + 1)
    : location;
}

/**
 * The lockfile `npm ci` in the workspace directory installs from, alone: the workspace's entry
 * becomes the project, and only the packages its dependencies reach are kept.
 */
export function deriveWorkspaceLock(
  root: Lockfile,
  workspace: string,
  manifest: PackageJson,
): Lockfile {
  if (root.lockfileVersion < 2) {
    throw new LockfileError(`root lockfile version ${root.lockfileVersion}: need 2 or later`);
  }
  const packages = root.packages;
  const project = packages[workspace];
  if (!project) {
    throw new LockfileError(`the root lockfile has no "${workspace}" workspace: run npm install`);
  }
  for (const field of DEPENDENCY_FIELDS) {
    if (!sameDependencies(project[field], manifest[field])) {
      throw new LockfileError(
        `${workspace}/package.json ${field} differ from the root lockfile's: run npm install ` +
          'at the root first (the functions lockfile is derived from the root one)',
      );
    }
  }

  // Every package the workspace reaches, through each kind of edge, as in the root install.
  const reached = new Map<string, Array<{ to: string; type: EdgeType }>>();
  const queue = [workspace];
  while (queue.length > 0) {
    const from = queue.shift()!;
    if (reached.has(from)) continue;
    const out: Array<{ to: string; type: EdgeType }> = [];
    reached.set(from, out);
    const entry = packages[from]!;
    for (const edge of edgesOf(entry, from === workspace)) {
      const to = resolveIn(packages, from, edge.name);
      if (!to) {
        if (edge.type === 'prod' || edge.type === 'dev' || edge.type === 'peer') {
          throw new LockfileError(
            `${from || '(root)'} needs ${edge.name}, which the root lockfile does not install`,
          );
        }
        continue; // an optional dependency not installed here (another platform's binary)
      }
      // An optional peer is installed only when something else needs it.
      if (edge.type === 'peerOptional') continue;
      if (packages[to]!.link) {
        throw new LockfileError(
          `${from} depends on ${edge.name}, a workspace link: a workspace deployed alone cannot`,
        );
      }
      out.push({ to, type: edge.type });
      queue.push(to);
    }
  }
  // An optional peer that is installed anyway is part of the tree, and must stay resolvable.
  for (const [from, out] of reached) {
    for (const edge of edgesOf(packages[from]!, from === workspace)) {
      if (edge.type !== 'peerOptional') continue;
      const to = resolveIn(packages, from, edge.name);
      if (to && reached.has(to)) out.push({ to, type: edge.type });
    }
  }

  const flags = dependencyFlags(workspace, reached);

  // The workspace's entry is the project's; its packages keep their places (those nested
  // under the workspace's own node_modules move up to the project's).
  const out: Record<string, LockEntry> = { '': { ...project } };
  const sources = new Map<string, string>();
  for (const location of [...reached.keys()].filter((l) => l !== workspace)) {
    const target = relocate(location, workspace);
    const clash = sources.get(target);
    if (clash !== undefined) {
      throw new LockfileError(
        `${location} and ${clash} both land at ${target} when ${workspace} is installed alone: ` +
          "align the workspace's version with the root's",
      );
    }
    sources.set(target, location);
    out[target] = withFlags(packages[location]!, flags.get(location)!);
  }
  const lock: Lockfile = {
    name: project.name ?? manifest.name,
    ...(project.version === undefined ? {} : { version: project.version }),
    lockfileVersion: 3,
    requires: true,
    packages: out,
  };
  verifySameResolution(root, workspace, lock);
  return lock;
}

/** The functions lockfile as the project's files say it should be, and its serialized text. */
export function functionsLock(projectDir: string, workspace = 'functions') {
  const root = JSON.parse(readFileSync(join(projectDir, 'package-lock.json'), 'utf8')) as Lockfile;
  const manifest = JSON.parse(
    readFileSync(join(projectDir, workspace, 'package.json'), 'utf8'),
  ) as PackageJson;
  const lock = deriveWorkspaceLock(root, workspace, manifest);
  return { root, manifest, lock, text: stringifyLock(lock) };
}
