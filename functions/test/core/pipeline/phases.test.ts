import { describe, expect, it } from 'vitest';
import { parseDocument } from '../../../src/core/config';
import { pipelineConfigSchema } from '../../../src/core/pipeline/config';
import {
  advancePhase,
  DEFAULT_PHASES,
  phaseReached,
  phaseScheduleSchema,
  shareOfPhase,
} from '../../../src/core/pipeline/phases';

describe('phase schedule', () => {
  it('defaults to the runbook: 15% -> 10% at 30%, -> 7% at 75%, -> 4.2% at 95%', () => {
    const config = pipelineConfigSchema.parse({});
    expect(config.collections.phases).toEqual([
      { fromPercent: 0, sharePercent: 15 },
      { fromPercent: 30, sharePercent: 10 },
      { fromPercent: 75, sharePercent: 7 },
      { fromPercent: 95, sharePercent: 4.2 },
    ]);
    // A parsed default is a copy: changing it cannot change the module's default.
    config.collections.phases[0]!.sharePercent = 99;
    expect(DEFAULT_PHASES[0]!.sharePercent).toBe(15);
    expect(pipelineConfigSchema.parse({}).collections.phases[0]!.sharePercent).toBe(15);
  });

  it('is changeable: a configured schedule replaces the default', () => {
    const config = pipelineConfigSchema.parse({
      collections: {
        phases: [
          { fromPercent: 0, sharePercent: 50 },
          { fromPercent: 50, sharePercent: 20 },
        ],
      },
    });
    expect(config.collections.phases).toHaveLength(2);
    expect(config.collections.stalledAfterMinutes).toBe(120);
  });

  it.each([
    [[{ fromPercent: 10, sharePercent: 15 }], '[0].fromPercent'],
    [
      [
        { fromPercent: 0, sharePercent: 15 },
        { fromPercent: 30, sharePercent: 10 },
        { fromPercent: 30, sharePercent: 7 },
      ],
      '[2].fromPercent',
    ],
    [[{ fromPercent: 0, sharePercent: 150 }], '[0].sharePercent'],
    [[], '(root)'],
  ])('rejects an invalid schedule %j', (phases, path) => {
    expect(() => parseDocument(phaseScheduleSchema, 'config/pipeline', phases)).toThrow(path);
  });

  it('enters a phase exactly at its threshold', () => {
    expect(phaseReached(DEFAULT_PHASES, 239, 800)).toBe(1);
    expect(phaseReached(DEFAULT_PHASES, 240, 800)).toBe(2);
    expect(phaseReached(DEFAULT_PHASES, 599, 800)).toBe(2);
    expect(phaseReached(DEFAULT_PHASES, 600, 800)).toBe(3);
    expect(phaseReached(DEFAULT_PHASES, 760, 800)).toBe(4);
    expect(phaseReached(DEFAULT_PHASES, 800, 800)).toBe(4);
  });

  it('only moves forward and lists every phase it passes', () => {
    expect(advancePhase(DEFAULT_PHASES, 1, 100, 800)).toEqual({ phase: 1, entered: [] });
    expect(advancePhase(DEFAULT_PHASES, 1, 700, 800)).toEqual({ phase: 3, entered: [2, 3] });
    expect(advancePhase(DEFAULT_PHASES, 3, 100, 800)).toEqual({ phase: 3, entered: [] });
  });

  it('keeps the last share for a phase beyond a shortened schedule', () => {
    expect(shareOfPhase(DEFAULT_PHASES, 2)).toBe(10);
    expect(shareOfPhase(DEFAULT_PHASES.slice(0, 2), 4)).toBe(10);
  });
});
