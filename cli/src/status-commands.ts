import { number, parseJson, parseTargets, parseTime } from './argument-parsers.ts';
import type { CommandContext } from './command-context.ts';
import { renderRestartCollection, renderStartCollection } from './render-changes.ts';
import {
  renderAuditLog,
  renderCollection,
  renderCollections,
  renderStatus,
} from './render-status.ts';

/**
 * The status and collection commands: `status`, `collection`, `collections`, `audit`,
 * `collect` and `restart`.
 */

export function registerStatusCommands({ program, action }: CommandContext): void {
  program
    .command('status')
    .description('configuration, shares, usage and cooldowns (getStatus)')
    .option('--window <minutes>', 'usage summed over this many minutes', number('--window'))
    .action(
      action(async (run, opts: { window?: number }) => {
        const input = opts.window === undefined ? {} : { usageWindowMinutes: opts.window };
        run.print(await run.call('getStatus', input), renderStatus);
      }),
    );

  program
    .command('collection')
    .description("one collection's progress, rate and ETA (getCollectionStatus)")
    .argument('<id>', 'collection id')
    .action(
      action(async (run, id: string) => {
        run.print(await run.call('getCollectionStatus', { id }), renderCollection);
      }),
    );

  program
    .command('collections')
    .description('every collection: progress, phase, rate, ETA (listCollections)')
    .option('--status <status>', 'only running, paused, completed or stalled ones')
    .option('--limit <n>', 'at most this many (default 100, at most 200)', number('--limit'))
    .action(
      action(async (run, opts: { status?: string; limit?: number }) => {
        run.print(await run.call('listCollections', opts), renderCollections);
      }),
    );

  program
    .command('audit')
    .description('the audit log, newest first (listAuditLog)')
    .option('--limit <n>', 'at most this many (default 50, at most 200)', number('--limit'))
    .option('--after <id>', 'the page after this entry (as the previous page says)')
    .option('--what <callable>', "only this callable's entries")
    .option('--target <path>', 'only entries about this document, e.g. categories/deals')
    .action(
      action(
        async (run, opts: { limit?: number; after?: string; what?: string; target?: string }) => {
          const { after, ...rest } = opts;
          const input = after === undefined ? rest : { ...rest, startAfter: after };
          run.print(await run.call('listAuditLog', input), renderAuditLog);
        },
      ),
    );

  program
    .command('collect')
    .description("start a collection, or adjust a running one's targets (startCollection)")
    .argument('<id>', 'collection id')
    .requiredOption('--provider <id>', 'provider')
    .requiredOption('--category <id>', 'category (of that provider)')
    .requiredOption(
      '--target <marketplace=count...>',
      'products to collect per marketplace (repeatable)',
    )
    .option('--phases <json>', 'a phase schedule of its own, e.g. \'[{"fromPercent":0,...}]\'')
    .option('--deadline <time>', 'when it should be done (ISO 8601, e.g. 2026-12-24T00:00Z)')
    .option(
      '--raise-share-up-to <percent>',
      "with --deadline: let Tollgate raise the category's share up to this when late",
      number('--raise-share-up-to'),
    )
    .action(
      action(
        async (
          run,
          id: string,
          opts: {
            provider: string;
            category: string;
            target: string[];
            phases?: string;
            deadline?: string;
            raiseShareUpTo?: number;
          },
        ) => {
          const input = {
            id,
            provider: opts.provider,
            category: opts.category,
            targets: parseTargets(opts.target),
            ...(opts.phases === undefined ? {} : { phases: parseJson('--phases', opts.phases) }),
            ...(opts.deadline === undefined
              ? {}
              : {
                  deadline: {
                    atMs: parseTime('--deadline', opts.deadline),
                    raiseShare:
                      opts.raiseShareUpTo === undefined
                        ? null
                        : { maxSharePercent: opts.raiseShareUpTo },
                  },
                }),
          };
          run.print(await run.call('startCollection', input), renderStartCollection);
        },
      ),
    );

  program
    .command('restart')
    .description('run a stalled collection again, its lost work re-issued (restartCollection)')
    .argument('<id>', 'collection id')
    .action(
      action(async (run, id: string) => {
        run.print(await run.call('restartCollection', { id }), renderRestartCollection);
      }),
    );
}
