import { defineConfig } from 'vite';

/**
 * The operator dashboard: a single page built into dashboard/dist, which Firebase Hosting
 * serves (firebase.json `hosting.public`). Preact's automatic JSX runtime, no plugin needed.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The budget is checked by dashboard/test/bundle-size.test.ts (150 KB gzipped initial JS).
    chunkSizeWarningLimit: 600,
  },
});
