// A package-lock.json's shape and Node's resolution over it: where a package finds a dependency,
// and which dependency edges npm installs for it.

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

export interface PackageJson {
  name: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export type EdgeType = 'prod' | 'optional' | 'dev' | 'peer' | 'peerOptional';

export interface Edge {
  name: string;
  type: EdgeType;
}

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
export function edgesOf(entry: LockEntry, isRoot: boolean): Edge[] {
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
