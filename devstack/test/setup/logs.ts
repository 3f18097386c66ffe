import { beforeEach } from 'vitest';
import { capturedLogLines } from '../../../functions/src/log.ts';

/**
 * Tests log nothing unless they fail: the code under test logs into memory in a test worker
 * (functions/src/log.ts), and a failed test gets what it logged printed after it.
 */
beforeEach((context) => {
  capturedLogLines.length = 0;
  context.onTestFailed(() => {
    if (capturedLogLines.length === 0) return;
    process.stderr.write(
      `\n--- logged during "${context.task.name}" (${capturedLogLines.length} lines) ---\n${capturedLogLines.join('')}--- end of log ---\n`,
    );
  });
});
