import { number } from './argument-parsers.ts';
import type { CommandContext } from './command-context.ts';
import { renderStats, renderWarnings } from './render-reports.ts';
import { PROGRESS_FROM_MS, parseReplayTime, readPolicyFile, renderReplay } from './replay.ts';

/**
 * Quota usage: `stats`, `replay` (recorded demand under a proposed policy) and `warnings`
 * (Firestore self-quota).
 */

export function registerUsageCommands({ program, action }: CommandContext): void {
  program
    .command('stats')
    .description('quota usage per provider and category (getQuotaStats)')
    .option('--provider <id>', 'one provider')
    .option('--category <id>', 'one category')
    .option('--minutes <n>', 'how many recent minutes (default 60)', number('--minutes'))
    .action(
      action(async (run, opts: { provider?: string; category?: string; minutes?: number }) => {
        run.print(await run.call('getQuotaStats', opts), renderStats);
      }),
    );

  program
    .command('replay')
    .description(
      'replay recorded demand under the current policy and a proposed one, side by side (simulatePolicy)',
    )
    .requiredOption('--from <time>', 'start: now, -<n>[smhd], ISO 8601 or epoch ms')
    .requiredOption('--to <time>', 'end (at most 24 hours after --from)')
    .requiredOption(
      '--policy <file>',
      'JSON: {"providers": [...], "categories": [...], "flags": {...}}, documents by id',
    )
    .option('--provider <id>', "only this provider's demand")
    .option('--instances <n>', 'simulated instances (10)', number('--instances'))
    .option('--seed <n>', 'random seed (1)', number('--seed'))
    .action(
      action(
        async (
          run,
          opts: {
            from: string;
            to: string;
            policy: string;
            provider?: string;
            instances?: number;
            seed?: number;
          },
        ) => {
          const nowMs = Date.now();
          const from = parseReplayTime(opts.from, nowMs, '--from');
          const to = parseReplayTime(opts.to, nowMs, '--to');
          const input = {
            from,
            to,
            policy: await readPolicyFile(opts.policy),
            ...(opts.provider ? { provider: opts.provider } : {}),
            ...(opts.instances === undefined ? {} : { instances: opts.instances }),
            ...(opts.seed === undefined ? {} : { seed: opts.seed }),
          };
          // Long ranges take a while: a bar over the simulated minutes of both runs.
          const minutes = Math.max(1, Math.ceil((2 * (to - from)) / 60_000));
          const bar = to - from >= PROGRESS_FROM_MS ? run.progress.start('replay', minutes) : null;
          let shown = 0;
          try {
            const result = await run.call('simulatePolicy', input, {
              onReplayProgress: (doneMs) => {
                const done = Math.floor(doneMs / 60_000);
                if (bar && done > shown) {
                  bar.increment(done - shown);
                  shown = done;
                }
              },
            });
            run.print(result, renderReplay);
          } finally {
            bar?.stop();
          }
        },
      ),
    );

  program
    .command('warnings')
    .description('recent Firestore self-quota warnings (getRecentWarnings)')
    .option('--limit <n>', 'at most this many', number('--limit'))
    .action(
      action(async (run, opts: { limit?: number }) => {
        run.print(await run.call('getRecentWarnings', opts), renderWarnings);
      }),
    );
}
