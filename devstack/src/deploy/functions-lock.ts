import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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

export interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

interface PackageJson {
  name: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

type EdgeType = 'prod' | 'optional' | 'dev' | 'peer' | 'peerOptional';

interface Edge {
  name: string;
  type: EdgeType;
}

const FLAGS = ['dev', 'optional', 'devOptional', 'peer'] as const;
type Flag = (typeof FLAGS)[number];
const DEPENDENCY_FIELDS = [
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'peerDependencies',
] as const;

export class LockfileError extends Error {}

/** The location a package at `from` gets for `name`: Node's lookup up the node_modules chain. */
export function resolveIn(
  packages: Record<string, LockEntry>,
  from: string,
  name: string,
): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === '') return undefined;
    const last = base.lastIndexOf('node_modules/');
    base = last <= 0 ? '' : base.slice(0, last - 1);
  }
}

/** The edges npm installs for a package: devDependencies only for the project itself. */
function edgesOf(entry: LockEntry, isRoot: boolean): Edge[] {
  const edges: Edge[] = [];
  for (const name of Object.keys(entry.dependencies ?? {})) edges.push({ name, type: 'prod' });
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    edges.push({ name, type: 'optional' });
  }
  if (isRoot) {
    for (const name of Object.keys(entry.devDependencies ?? {})) edges.push({ name, type: 'dev' });
  }
  for (const name of Object.keys(entry.peerDependencies ?? {})) {
    const optional = entry.peerDependenciesMeta?.[name]?.optional === true;
    edges.push({ name, type: optional ? 'peerOptional' : 'peer' });
  }
  return edges;
}

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

/**
 * npm's dependency flags (arborist's calc-dep-flags): a package is `dev` when only dev edges reach
 * it, `optional` when every path to it has an optional edge, `peer` when only peer edges reach it,
 * and `devOptional` when each path is dev or optional. A package nested inside another keeps its
 * container installed, so clearing a flag clears it up the containers too.
 */
function dependencyFlags(
  workspace: string,
  reached: Map<string, Array<{ to: string; type: EdgeType }>>,
): Map<string, Record<Flag, boolean>> {
  const flags = new Map<string, Record<Flag, boolean>>();
  for (const location of reached.keys()) {
    const value = location !== workspace;
    flags.set(location, { dev: value, optional: value, devOptional: value, peer: value });
  }
  const container = (location: string): string | undefined => {
    const last = location.lastIndexOf('/node_modules/');
    if (last < 0) return undefined;
    const parent = location.slice(0, last);
    return flags.has(parent) ? parent : undefined;
  };
  const unset = (location: string, flag: Flag) => {
    for (let at: string | undefined = location; at !== undefined; at = container(at)) {
      const f = flags.get(at)!;
      if (!f[flag] && at !== location) break;
      f[flag] = false;
    }
  };
  let changed = true;
  while (changed) {
    changed = false;
    const before = JSON.stringify([...flags.values()]);
    for (const [from, edges] of reached) {
      const node = flags.get(from)!;
      for (const { to, type } of edges) {
        const dev = type === 'dev';
        const optional = type === 'optional' || type === 'peerOptional';
        const peer = type === 'peer' || type === 'peerOptional';
        const unsetDevOpt = !node.devOptional && !node.dev && !node.optional && !dev && !optional;
        if (!node.peer && !peer) unset(to, 'peer');
        if (unsetDevOpt) unset(to, 'devOptional');
        if (unsetDevOpt || (!node.dev && !dev)) unset(to, 'dev');
        if (unsetDevOpt || (!node.optional && !optional)) unset(to, 'optional');
      }
    }
    changed = JSON.stringify([...flags.values()]) !== before;
  }
  return flags;
}

/** The root install's entry with the flags this tree gives it. */
function withFlags(entry: LockEntry, flags: Record<Flag, boolean>): LockEntry {
  const out: LockEntry = {};
  for (const [key, value] of Object.entries(entry)) {
    if (!(FLAGS as readonly string[]).includes(key)) out[key] = value;
  }
  if (flags.peer) out.peer = true;
  if (flags.dev) out.dev = true;
  if (flags.optional) out.optional = true;
  if (flags.devOptional && !flags.dev && !flags.optional) out.devOptional = true;
  return out;
}

/** The keys npm writes first in a lockfile, in this order (arborist's shrinkwrap). */
const LOCK_KEY_ORDER = [
  'name',
  'version',
  'lockfileVersion',
  'resolved',
  'integrity',
  'requires',
  'packages',
  'dependencies',
];

/**
 * A lockfile's text as npm writes it (json-stringify-nice): in every object, plain values before
 * objects, the keys above first, the others in English locale order; two-space indents.
 */
export function stringifyLock(lock: Lockfile): string {
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const rank = (key: string) => LOCK_KEY_ORDER.indexOf(key);
  const compare = (a: string, b: string) => {
    const [ra, rb] = [rank(a), rank(b)];
    if (ra >= 0 && rb >= 0) return ra - rb;
    if (ra >= 0) return -1;
    if (rb >= 0) return 1;
    return a.localeCompare(b, 'en');
  };
  const sorted = (_key: string, value: unknown) => {
    if (!isObject(value)) return value;
    const entries = Object.entries(value as Record<string, unknown>).sort(([ak, av], [bk, bv]) =>
      isObject(av) === isObject(bv) ? compare(ak, bk) : isObject(av) ? 1 : -1,
    );
    return Object.fromEntries(entries);
  };
  return `${JSON.stringify(lock, sorted, 2)}\n`;
}

/**
 * Every dependency of every package resolves, in the derived lockfile, to the same version and
 * integrity as in the root install: the tree `npm ci` builds is the one the tests ran on.
 */
export function verifySameResolution(root: Lockfile, workspace: string, lock: Lockfile): void {
  const walk = (fromRoot: string, fromLock: string, seen: Set<string>) => {
    if (seen.has(fromRoot)) return;
    seen.add(fromRoot);
    const entry = root.packages[fromRoot]!;
    for (const edge of edgesOf(entry, fromRoot === workspace)) {
      const inRoot = resolveIn(root.packages, fromRoot, edge.name);
      const inLock = resolveIn(lock.packages, fromLock, edge.name);
      if (inLock === undefined) {
        // Left out only when optional: another platform's binary, an optional peer not needed.
        if (edge.type === 'prod' || edge.type === 'dev' || edge.type === 'peer') {
          throw new LockfileError(`${fromLock || '(root)'}: ${edge.name} does not resolve`);
        }
        continue;
      }
      if (inRoot === undefined) {
        throw new LockfileError(
          `${fromLock || '(root)'}: ${edge.name} resolves to ${inLock}, which the tests never had`,
        );
      }
      const a = root.packages[inRoot]!;
      const b = lock.packages[inLock]!;
      if (a.version !== b.version || a.integrity !== b.integrity) {
        throw new LockfileError(
          `${fromLock || '(root)'}: ${edge.name} resolves to ${b.version} instead of the root ` +
            `install's ${a.version}`,
        );
      }
      walk(inRoot, inLock, seen);
    }
  };
  walk(workspace, '', new Set());
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
