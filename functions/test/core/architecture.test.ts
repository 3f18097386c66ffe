import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering, checked on the source: the core imports nothing of Firebase, Google Cloud or
 * the layers above it, and no module of functions/src imports itself through others (type
 * imports included: a cycle of types is still two modules that cannot be read apart).
 */

const SRC = resolve(__dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/g)) {
    found.push(match[1]!);
  }
  for (const match of text.matchAll(/(?:^|\n)\s*import\s+'([^']+)'/g)) found.push(match[1]!);
  return found;
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
const graph = new Map(
  files.map((file) => [
    file,
    specifiers(file)
      .map((s) => resolveLocal(file, s))
      .filter((target): target is string => target !== undefined),
  ]),
);

describe('architecture', () => {
  it('keeps the core free of Firebase, Google Cloud and the layers above it', () => {
    const offending: string[] = [];
    for (const file of files.filter((f) => relative(SRC, f).startsWith('core/'))) {
      for (const specifier of specifiers(file)) {
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
});
