import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layering, checked on the source: the core imports nothing of Firebase, Google Cloud or
 * the layers above it (and no library but zod), the adapters no entry point, the entry points
 * no Firebase Admin SDK, every relative import resolves, every folder has its README.md (saying
 * what it may import) and every
 * capability its namesake in the core, and no module of functions/src imports itself through others (type
 * imports included: a cycle of types is still two modules that cannot be read apart).
 */

const SRC = resolve(__dirname, '..', '..', 'src');

function sources(dir: string, pattern = /\.ts$/): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path, pattern);
    return pattern.test(name) ? [path] : [];
  });
}

/** Every module specifier a file imports, re-exports or loads (TypeScript's own reading). */
function specifiers(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles.map((f) => f.fileName);
}

function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return undefined;
}

const files = sources(SRC);
/** Each file's specifiers, read once for every check. */
const imports = new Map(files.map((file) => [file, specifiers(file)]));
const importsOf = (file: string) => imports.get(file) ?? [];
const graph = new Map(
  files.map((file) => [
    file,
    importsOf(file)
      .map((s) => resolveLocal(file, s))
      .filter((target): target is string => target !== undefined),
  ]),
);

describe('architecture', () => {
  it('keeps the core free of Firebase, Google Cloud and the layers above it', () => {
    const offending: string[] = [];
    for (const file of files.filter((f) => relative(SRC, f).startsWith('core/'))) {
      for (const specifier of importsOf(file)) {
        const target = resolveLocal(file, specifier);
        const outside = target !== undefined && !relative(SRC, target).startsWith('core/');
        if (
          /^(firebase|firebase-admin|firebase-functions|@google-cloud)(\/|$)/.test(specifier) ||
          outside
        ) {
          offending.push(`${relative(SRC, file)} imports ${specifier}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') {
          cycles.push(
            [...stack.slice(stack.indexOf(next)), next].map((f) => relative(SRC, f)).join(' -> '),
          );
        } else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('keeps the adapters below the entry points', () => {
    const offending = files
      .filter((f) => relative(SRC, f).startsWith('adapters/'))
      .flatMap((file) =>
        (graph.get(file) ?? [])
          .filter((target) => relative(SRC, target).startsWith('entry/'))
          .map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`),
      );
    expect(offending).toEqual([]);
  });

  it("keeps each capability's entry points apart from the others'", () => {
    const capabilityOf = (file: string) => {
      const parts = relative(SRC, file).split(/[\\/]/);
      return parts[0] === 'entry' && parts.length > 2 ? parts[1] : undefined;
    };
    const offending = files.flatMap((file) =>
      (graph.get(file) ?? [])
        .filter((target) => {
          const to = capabilityOf(target);
          return (
            to !== undefined && capabilityOf(file) !== to && relative(SRC, file) !== 'index.ts'
          );
        })
        .map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`),
    );
    expect(offending).toEqual([]);
  });

  it('keeps modules small: near 300 lines, none over 400, in every workspace', () => {
    const ROOT = resolve(SRC, '..', '..');
    const workspaces = ['functions/src', 'devstack/src', 'cli/src', 'client/src', 'dashboard/src'];
    const long = workspaces
      .flatMap((w) => sources(join(ROOT, w), /\.tsx?$/))
      .map((file) => ({ file, lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400)
      .map(({ file, lines }) => `${relative(ROOT, file)}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it('resolves every relative import (one that does not would escape every check here)', () => {
    const unresolved = files.flatMap((file) =>
      importsOf(file)
        .filter((s) => s.startsWith('.') && resolveLocal(file, s) === undefined)
        .map((s) => `${relative(SRC, file)} imports ${s}`),
    );
    expect(unresolved).toEqual([]);
  });

  it('lets the core use no library but zod and node:crypto', () => {
    const libraries = files
      .filter((f) => relative(SRC, f).startsWith('core/'))
      .flatMap((file) =>
        importsOf(file)
          .filter((s) => !s.startsWith('.') && !['zod', 'node:crypto'].includes(s))
          .map((s) => `${relative(SRC, file)} imports ${s}`),
      );
    expect(libraries).toEqual([]);
  });

  it('keeps the entry points thin: Firestore, Auth and Cloud Tasks are reached through adapters', () => {
    const offending = files
      .filter((f) => relative(SRC, f).startsWith('entry/'))
      .flatMap((file) =>
        importsOf(file)
          .filter((s) => /^(firebase-admin|@google-cloud)(\/|$)/.test(s))
          .map((s) => `${relative(SRC, file)} imports ${s}`),
      );
    expect(offending).toEqual([]);
  });

  it('names each capability alike in every layer, and every folder says what it owns', () => {
    const folders = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? [path, ...folders(path)] : [];
      });
    const all = [SRC, ...folders(SRC)];
    expect(
      all.filter((dir) => !existsSync(join(dir, 'README.md'))).map((d) => relative(SRC, d)),
    ).toEqual([]);
    // ... and what it may import (the root's README gives each layer's rule).
    expect(
      all
        .filter(
          (dir) => dir !== SRC && !/may import/i.test(readFileSync(join(dir, 'README.md'), 'utf8')),
        )
        .map((d) => relative(SRC, d)),
    ).toEqual([]);
    // A capability folder of the adapters or the entry points has its namesake in the core.
    const capabilities = (layer: string) =>
      readdirSync(join(SRC, layer)).filter((n) => statSync(join(SRC, layer, n)).isDirectory());
    const core = new Set(capabilities('core'));
    for (const layer of ['adapters', 'entry']) {
      expect(
        capabilities(layer).filter((c) => !core.has(c)),
        layer,
      ).toEqual([]);
    }
  });
});
