import { describe, expect, it } from 'vitest';
import { parseDocument } from '../../../src/core/config';
import { pipelineConfigSchema } from '../../../src/core/pipeline/config';

describe('pipeline configuration', () => {
  it('gives every default from an empty document', () => {
    const config = parseDocument(pipelineConfigSchema, 'config/pipeline', {});
    expect(config.backfill).toMatchObject({ minLookbackHours: 3, chunkHours: 6 });
    expect(config.batching.commit.size).toBe(5);
    expect(config.batching.peek.size).toBe(50);
    expect(config.aggregation).toMatchObject({ minResponses: 3, timeoutSeconds: 60 });
    expect(config.validation.minConfidence).toBe(0.8);
  });

  it('names the field of a bad value', () => {
    expect(() =>
      parseDocument(pipelineConfigSchema, 'config/pipeline', { backfill: { chunkHours: -1 } }),
    ).toThrow(/config\/pipeline: backfill\.chunkHours/);
  });
});
