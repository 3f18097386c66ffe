import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Hosting serves what the dashboard's build writes, and keeps the health rewrite. */
const ROOT = resolve(import.meta.dirname, '..', '..');

describe('firebase.json hosting', () => {
  const firebase = JSON.parse(readFileSync(join(ROOT, 'firebase.json'), 'utf8')) as {
    hosting: {
      public: string;
      predeploy?: string[];
      rewrites: Array<{ source: string; function?: string }>;
      headers?: Array<{ source: string; headers: Array<{ key: string; value: string }> }>;
    };
  };

  it('serves dashboard/dist, built before a deploy, with /api/health rewritten to health', () => {
    expect(firebase.hosting.public).toBe('dashboard/dist');
    expect(readFileSync(join(ROOT, 'dashboard', 'vite.config.ts'), 'utf8')).toMatch(
      /outDir: 'dist'/,
    );
    expect(firebase.hosting.predeploy).toEqual([
      'npm --prefix "$PROJECT_DIR" run build -w dashboard',
    ]);
    expect(firebase.hosting.rewrites).toContainEqual({ source: '/api/health', function: 'health' });
  });

  it('revalidates the page at / and /index.html, caches assets, and refuses framing', () => {
    const headersOf = (source: string) =>
      Object.fromEntries(
        (firebase.hosting.headers ?? [])
          .filter((h) => h.source === source)
          .flatMap((h) => h.headers.map((x) => [x.key, x.value])),
      );
    // Hash routing: users open `/`, which serves index.html; both must be revalidated.
    expect(headersOf('/')['Cache-Control']).toBe('no-cache');
    expect(headersOf('/index.html')['Cache-Control']).toBe('no-cache');
    expect(headersOf('/assets/**')['Cache-Control']).toBe('public, max-age=31536000, immutable');
    expect(headersOf('**')).toMatchObject({
      'Content-Security-Policy': "frame-ancestors 'none'",
      'X-Frame-Options': 'DENY',
    });
  });

  it('is built by the root build (which npm test and npm start run first)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      workspaces: string[];
    };
    expect(pkg.workspaces).toContain('dashboard');
    expect(pkg.scripts.build).toContain('npm run build -w dashboard');
  });
});
