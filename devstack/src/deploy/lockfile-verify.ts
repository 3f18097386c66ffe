// The check of a derived lockfile: every dependency resolves to the version and integrity the
// root install (the one the tests ran on) has.
import { edgesOf, type Lockfile, LockfileError, resolveIn } from './lockfile-resolution.ts';

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
