import { collect, number, parseFlagSettings } from './argument-parsers.ts';
import type { CommandContext } from './command-context.ts';
import { observeProductPages, productCount } from './jobs.ts';
import { renderFlags } from './render-changes.ts';
import { renderFlush, renderValidation, renderValidationReport } from './render-reports.ts';

/**
 * Flags and pipeline settings, data validation and pending aggregations: `flags`, `validate`,
 * `validation` and `flush`.
 */

export function registerPipelineCommands({ program, action }: CommandContext): void {
  program
    .command('flags')
    .description('show the flags, or change flags and pipeline settings (setFlags)')
    .option(
      '--set <key=value>',
      'a flag (maxAwaitSeconds=30) or pipeline.<section>.<field>=value; repeatable',
      collect,
    )
    .action(
      action(async (run, opts: { set?: string[] }) => {
        if (!opts.set || opts.set.length === 0) {
          const status = await run.call('getStatus', {});
          run.print(status.flags, (flags) => renderFlags(flags));
          return;
        }
        const result = await run.call('setFlags', parseFlagSettings(opts.set));
        run.print(result, (r) => renderFlags(r.flags, r));
      }),
    );

  program
    .command('validate')
    .description('run data validation now (validateData)')
    .option('--marketplace <id>', 'one marketplace only')
    .action(
      action(async (run, opts: { marketplace?: string }) => {
        const { db } = (await run.session()).deps;
        const bar = run.progress.start('validate', await productCount(db));
        const input = opts.marketplace ? { marketplace: opts.marketplace } : {};
        try {
          const observed = observeProductPages(db, (n) => bar.increment(n));
          run.print(await run.call('validateData', input, { db: observed }), renderValidation);
        } finally {
          bar.stop();
        }
      }),
    );

  program
    .command('validation')
    .description('validation results: latest, history, failing products (getValidationReport)')
    .option('--marketplace <id>', "one marketplace's results")
    .option('--history <n>', 'completed runs listed (10)', number('--history'))
    .option('--findings <n>', 'failing products listed (20)', number('--findings'))
    .action(
      action(async (run, opts: { marketplace?: string; history?: number; findings?: number }) => {
        const input = {
          ...(opts.marketplace ? { marketplace: opts.marketplace } : {}),
          ...(opts.history === undefined ? {} : { history: opts.history }),
          ...(opts.findings === undefined ? {} : { findings: opts.findings }),
        };
        run.print(await run.call('getValidationReport', input), renderValidationReport);
      }),
    );

  program
    .command('flush')
    .description('write pending aggregations now (forceFlush)')
    .option('--item <id>', 'only this work item (repeatable)', collect)
    .action(
      action(async (run, opts: { item?: string[] }) => {
        const input = opts.item ? { workItemIds: opts.item } : {};
        run.print(await run.call('forceFlush', input), renderFlush);
      }),
    );
}
