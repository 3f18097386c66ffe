import { describe, expect, it } from 'vitest';
import { earlyByMs, taskId, wrapTask } from '../../src/core/queues/task-envelope';

describe('task envelope', () => {
  it('carries notBefore only for scheduled tasks', () => {
    expect(wrapTask({ a: 1 })).toEqual({ payload: { a: 1 } });
    const at = new Date('2026-01-01T00:00:10Z');
    const envelope = wrapTask({ a: 1 }, at);
    expect(earlyByMs(envelope, new Date('2026-01-01T00:00:04Z'))).toBe(6000);
    expect(earlyByMs(envelope, new Date('2026-01-01T00:00:10Z'))).toBe(0);
    expect(earlyByMs(envelope, new Date('2026-01-01T00:01:00Z'))).toBe(0);
  });

  it('makes ids Cloud Tasks accepts', () => {
    expect(taskId('sync', 'spapi', '2026-01-01T00:00:00Z')).toBe('sync-spapi-2026-01-01T00_00_00Z');
    expect(taskId('x'.repeat(600))).toHaveLength(500);
  });
});
