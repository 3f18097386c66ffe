import { number } from './argument-parsers.ts';
import type { CommandContext } from './command-context.ts';
import { renderCategoryChange } from './render-changes.ts';

/** A category's share of its provider: `allocate`, `pause` and `resume`. */

export function registerAllocationCommands({ program, action }: CommandContext): void {
  program
    .command('allocate')
    .description("set a category's share of its provider (setCategoryAllocation)")
    .argument('<category>', 'category id')
    .argument('<percent>', 'share in percent', number('<percent>'))
    .option('--override', 'pin the share (overridePercent) instead of setting it')
    .option('--redistribute', "hand a lowered share to the provider's other categories")
    .option('--priority <n>', 'also set the priority', number('--priority'))
    .option('--min <percent>', 'also set the minimum share (1% = paused)', number('--min'))
    .action(
      action(
        async (
          run,
          category: string,
          value: number,
          opts: { override?: boolean; redistribute?: boolean; priority?: number; min?: number },
        ) => {
          const input = {
            category,
            ...(opts.override ? { overridePercent: value } : { sharePercent: value }),
            ...(opts.redistribute ? { redistribute: true } : {}),
            ...(opts.priority === undefined ? {} : { priority: opts.priority }),
            ...(opts.min === undefined ? {} : { minSharePercent: opts.min }),
          };
          run.print(await run.call('setCategoryAllocation', input), renderCategoryChange);
        },
      ),
    );

  for (const [name, callable, what] of [
    ['pause', 'pauseCategory', 'pause a category with its collections'],
    ['resume', 'resumeCategory', 'resume a category with its collections'],
  ] as const) {
    program
      .command(name)
      .description(`${what} (${callable})`)
      .argument('<category>', 'category id')
      .action(
        action(async (run, category: string) => {
          run.print(await run.call(callable, { category }), renderCategoryChange);
        }),
      );
  }
}
