import { describe, expect, it } from 'vitest';
import { evaluateHealth, httpStatusOf } from '../../src/core/observability/health';
import {
  DEFAULT_HEALTH_CONFIG,
  parseHealthConfig,
} from '../../src/core/observability/health-config';
import type { HealthInput } from '../../src/core/observability/health-input';
import { errorRateOf, summarizeUsage } from '../../src/core/observability/upstream-usage';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

function input(overrides: Partial<HealthInput> = {}): HealthInput {
  return {
    nowMs: NOW,
    config: DEFAULT_HEALTH_CONFIG,
    firestore: { ok: true, latencyMs: 12 },
    backlog: { ok: true, value: [] },
    usage: { ok: true, value: [] },
    cooldowns: { ok: true, value: [] },
    ...overrides,
  };
}

const usage = (provider: string, granted: number, quotaErrors: number, calls = 0) => ({
  provider,
  granted,
  deferred: 0,
  calls,
  quotaErrors,
});

describe('health thresholds', () => {
  it('default when absent, and name the field when invalid', () => {
    expect(parseHealthConfig(undefined)).toEqual({ config: DEFAULT_HEALTH_CONFIG });
    expect(DEFAULT_HEALTH_CONFIG).toEqual({
      maxErrorRate: 0.1,
      minCalls: 20,
      errorWindowMinutes: 5,
      maxBacklog: 100_000,
      maxBacklogAgeMinutes: 1440,
    });
    expect(parseHealthConfig({ maxBacklog: null, maxErrorRate: 0.5 }).config).toMatchObject({
      maxBacklog: null,
      maxErrorRate: 0.5,
      minCalls: 20,
    });
    const bad = parseHealthConfig({ maxErrorRate: 2 });
    expect(bad.config).toEqual(DEFAULT_HEALTH_CONFIG);
    expect(bad.problem).toMatch(/maxErrorRate/);
  });
});

describe('usage summary', () => {
  it('sums per provider within the window; calls stand for attempts when recorded', () => {
    const summary = summarizeUsage(
      [
        { provider: 'keepa', minuteMs: NOW - 60_000, granted: 10, quota429: 1 },
        { provider: 'keepa', minuteMs: NOW, granted: 5, deferred: 2 },
        { provider: 'keepa', minuteMs: NOW - 3_600_000, granted: 1000, quota429: 900 },
        { provider: 'spapi', minuteMs: NOW, granted: 4, calls: 8, quota429: 2 },
      ],
      NOW - 5 * 60_000,
    );
    expect(summary).toEqual([
      { provider: 'keepa', granted: 15, deferred: 2, calls: 0, quotaErrors: 1 },
      { provider: 'spapi', granted: 4, deferred: 0, calls: 8, quotaErrors: 2 },
    ]);
    expect(errorRateOf(summary[0]!)).toBeCloseTo(1 / 15);
    expect(errorRateOf(summary[1]!)).toBe(0.25);
    expect(errorRateOf(usage('x', 0, 3))).toBeNull();
    expect(errorRateOf(usage('x', 2, 5))).toBe(1);
  });
});

describe('evaluateHealth', () => {
  it('is ok with nothing wrong', () => {
    const report = evaluateHealth(input());
    expect(report).toMatchObject({ status: 'ok', reasons: [], notes: [] });
    expect(httpStatusOf(report)).toBe(200);
  });

  it('is degraded when Firestore is unreachable, and reads nothing else', () => {
    const report = evaluateHealth(
      input({ firestore: { ok: false, error: 'deadline exceeded' }, backlog: undefined }),
    );
    expect(report.status).toBe('degraded');
    expect(report.reasons).toEqual(['Firestore unreachable: deadline exceeded']);
    expect(report.queues).toBeNull();
    expect(httpStatusOf(report)).toBe(503);
  });

  it('reports an active cooldown without being degraded', () => {
    const report = evaluateHealth(
      input({
        cooldowns: {
          ok: true,
          value: [
            {
              provider: 'keepa',
              untilMs: NOW + 90_500,
              startedAtMs: NOW - 10_000,
              hits: 3,
              lastOperation: 'product',
            },
            // Ended: not reported.
            {
              provider: 'spapi',
              untilMs: NOW - 1,
              startedAtMs: null,
              hits: null,
              lastOperation: null,
            },
          ],
        },
      }),
    );
    expect(report.status).toBe('ok');
    expect(report.cooldowns).toEqual([
      {
        provider: 'keepa',
        until: new Date(NOW + 90_500).toISOString(),
        remainingSeconds: 91,
        hits: 3,
        lastOperation: 'product',
      },
    ]);
    expect(report.notes).toEqual(['keepa cooling down for 91 s more (not degraded)']);
  });

  it('is degraded above the error rate, on enough calls only', () => {
    const report = evaluateHealth(
      input({
        usage: {
          ok: true,
          value: [usage('keepa', 100, 11), usage('spapi', 10, 10), usage('smartproxy', 100, 10)],
        },
      }),
    );
    expect(report.status).toBe('degraded');
    expect(report.reasons).toEqual([
      'keepa: 11% of 100 calls in the last 5 min hit a quota error, above 10%',
    ]);
    expect(report.upstreams).toEqual([
      expect.objectContaining({ provider: 'keepa', errorRate: 0.11, judged: true, degraded: true }),
      expect.objectContaining({ provider: 'spapi', errorRate: 1, judged: false, degraded: false }),
      // Exactly at the threshold is not above it.
      expect.objectContaining({ provider: 'smartproxy', errorRate: 0.1, degraded: false }),
    ]);
  });

  it('is degraded when a queue is too long or its oldest item too old', () => {
    const config = { ...DEFAULT_HEALTH_CONFIG, maxBacklog: 1000, maxBacklogAgeMinutes: 60 };
    const report = evaluateHealth(
      input({
        config,
        backlog: {
          ok: true,
          value: [
            { queue: 'ingest/a', pending: 1001, stages: { peek: 1001 }, oldestAtMs: NOW - 60_000 },
            { queue: 'ingest/b', pending: 5, stages: { peek: 5 }, oldestAtMs: NOW - 61 * 60_000 },
            { queue: 'ingest/c', pending: 0, stages: { done: 9 }, oldestAtMs: NOW - 999 * 60_000 },
            { queue: 'aggregations', pending: 1000, stages: { pending: 1000 }, oldestAtMs: null },
          ],
        },
      }),
    );
    expect(report.status).toBe('degraded');
    expect(report.reasons).toEqual([
      'ingest/a: 1001 pending, above 1000',
      'ingest/b: oldest pending item waiting 61 min, above 60 min',
    ]);
    expect(report.queues).toEqual([
      expect.objectContaining({ queue: 'ingest/a', degraded: true, oldestAgeSeconds: 60 }),
      expect.objectContaining({ queue: 'ingest/b', degraded: true, oldestAgeSeconds: 3660 }),
      expect.objectContaining({ queue: 'ingest/c', degraded: false, oldestAgeSeconds: null }),
      expect.objectContaining({ queue: 'aggregations', degraded: false }),
    ]);
  });

  it('turns off backlog limits with null', () => {
    const report = evaluateHealth(
      input({
        config: { ...DEFAULT_HEALTH_CONFIG, maxBacklog: null, maxBacklogAgeMinutes: null },
        backlog: {
          ok: true,
          value: [{ queue: 'ingest/a', pending: 10 ** 9, stages: {}, oldestAtMs: 0 }],
        },
      }),
    );
    expect(report.status).toBe('ok');
  });

  it('is degraded when a check cannot be read, and says which', () => {
    const report = evaluateHealth(
      input({
        usage: { ok: false, error: 'FAILED_PRECONDITION: index missing' },
        configProblem: 'invalid config/pipeline health (defaults used): minCalls: too small',
      }),
    );
    expect(report.status).toBe('degraded');
    expect(report.reasons).toEqual([
      'upstream statistics not readable: FAILED_PRECONDITION: index missing',
    ]);
    expect(report.upstreams).toEqual({ error: 'FAILED_PRECONDITION: index missing' });
    expect(report.notes).toEqual([
      'invalid config/pipeline health (defaults used): minCalls: too small',
    ]);
  });
});
