import { describe, expect, it } from 'vitest';
import { deployedQueueRate } from '../../src/adapters/queues/work-queue-params';

/**
 * Outside a deployed function (the CLI's `tollgate replay`, which sizes replayed work queues with
 * these bounds) firebase-functions reads an unset param as 0, not its default: a work queue of
 * 0/s, which a replay refused with an internal error (review helper-59).
 */
describe('deployedQueueRate', () => {
  it('is the params’ default where they are unset, and what they say where set', () => {
    const names = ['KEEPA_WORK_DISPATCHES_PER_SECOND', 'KEEPA_WORK_CONCURRENT_DISPATCHES'];
    const saved = names.map((n) => process.env[n]);
    try {
      for (const n of names) delete process.env[n];
      expect(deployedQueueRate('keepa')).toEqual({
        maxDispatchesPerSecond: 10,
        maxConcurrentDispatches: 10,
      });
      process.env.KEEPA_WORK_DISPATCHES_PER_SECOND = '25';
      process.env.KEEPA_WORK_CONCURRENT_DISPATCHES = '7';
      expect(deployedQueueRate('keepa')).toEqual({
        maxDispatchesPerSecond: 25,
        maxConcurrentDispatches: 7,
      });
    } finally {
      names.forEach((n, i) => {
        if (saved[i] === undefined) delete process.env[n];
        else process.env[n] = saved[i];
      });
    }
  });
});
