import { afterAll, beforeAll } from 'vitest';
import { logger } from '../../src/log';

/** Silences the logger for the enclosing file or describe block (errors are expected there). */
export function quietLogger(): void {
  let level: string;
  beforeAll(() => {
    level = logger.level;
    logger.level = 'silent';
  });
  afterAll(() => {
    logger.level = level;
  });
}
