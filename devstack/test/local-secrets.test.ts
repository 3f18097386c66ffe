import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localMetricsToken } from '../src/local-secrets.ts';

/**
 * The local metrics token: written once to functions/.secret.local and kept, never empty (the
 * Functions emulator would ask Secret Manager, off loopback, for an empty secret).
 */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-secrets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const file = () => readFileSync(join(dir, '.secret.local'), 'utf8');

describe('localMetricsToken', () => {
  it('writes a random token once and keeps it', () => {
    const token = localMetricsToken(dir);
    expect(token).toMatch(/^local-[A-Za-z0-9_-]{24}$/);
    expect(file()).toBe(`TOLLGATE_METRICS_TOKEN=${token}\n`);
    expect(localMetricsToken(dir)).toBe(token);
    expect(localMetricsToken(mkdtempSync(join(tmpdir(), 'tollgate-secrets-')))).not.toBe(token);
  });

  it("keeps the developer's own token and the other secrets", () => {
    writeFileSync(join(dir, '.secret.local'), 'KEEPA_API_KEY=k\nTOLLGATE_METRICS_TOKEN=mine\n');
    expect(localMetricsToken(dir)).toBe('mine');
    expect(file()).toBe('KEEPA_API_KEY=k\nTOLLGATE_METRICS_TOKEN=mine\n');
  });

  it('replaces an empty token, and appends to a file without a final newline', () => {
    writeFileSync(join(dir, '.secret.local'), 'A=1\nTOLLGATE_METRICS_TOKEN=\nB=2\n');
    const token = localMetricsToken(dir);
    expect(file()).toBe(`A=1\nTOLLGATE_METRICS_TOKEN=${token}\nB=2\n`);
    writeFileSync(join(dir, '.secret.local'), 'A=1');
    const next = localMetricsToken(dir);
    expect(file()).toBe(`A=1\nTOLLGATE_METRICS_TOKEN=${next}\n`);
  });
});
