// npm's dev/optional/devOptional/peer flags of the packages a workspace reaches, computed as for
// a project whose root is that workspace.
import type { EdgeType, LockEntry } from './lockfile-resolution.ts';

const FLAGS = ['dev', 'optional', 'devOptional', 'peer'] as const;
export type Flag = (typeof FLAGS)[number];

/**
 * npm's dependency flags (arborist's calc-dep-flags): a package is `dev` when only dev edges reach
 * it, `optional` when every path to it has an optional edge, `peer` when only peer edges reach it,
 * and `devOptional` when each path is dev or optional. A package nested inside another keeps its
 * container installed, so clearing a flag clears it up the containers too.
 */
export function dependencyFlags(
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
export function withFlags(entry: LockEntry, flags: Record<Flag, boolean>): LockEntry {
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
