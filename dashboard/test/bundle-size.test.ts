import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The page budget: the JavaScript the first page load fetches (the entry script and the chunks
 * index.html preloads; the usage charts and the health view load on demand) is at most 150 KB
 * gzipped. Built here, into a temporary folder, with the same Vite config as `npm run build`.
 */

const BUDGET_BYTES = 150 * 1024;
const root = resolve(import.meta.dirname, '..');
const outDir = mkdtempSync(join(tmpdir(), 'tollgate-dashboard-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** The scripts index.html loads at once: module scripts and modulepreload links. */
export function initialScripts(html: string): string[] {
  const srcs = [...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map(
    (m) => m[1]!,
  );
  return [...new Set([...srcs, ...preloads])];
}

describe('the dashboard bundle', () => {
  it('loads at most 150 KB of gzipped JavaScript on the first page', async () => {
    await build({
      root,
      configFile: join(root, 'vite.config.ts'),
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
    });
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    const scripts = initialScripts(html);
    expect(scripts.length).toBeGreaterThan(0);
    const sizes = scripts.map((src) => {
      const bytes = readFileSync(join(outDir, src.replace(/^\//, '')));
      return { src, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
    const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
    console.log(
      `dashboard initial JS: ${sizes.map((s) => `${s.src} ${(s.gzip / 1024).toFixed(1)} KB gz`).join(', ')}; total ${(total / 1024).toFixed(1)} KB gzipped (budget 150 KB)`,
    );
    expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
    // uPlot is not part of the first page: it comes with the usage view.
    const initial = scripts.map((s) => readFileSync(join(outDir, s.replace(/^\//, '')), 'utf8'));
    expect(initial.some((code) => code.includes('uplot'))).toBe(false);
  }, 120_000);
});
