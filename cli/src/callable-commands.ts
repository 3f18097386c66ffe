// Values from the API's own modules (see errors.ts).
import { callableNames, callableRegistry } from '../../functions/src/core/operations/registry.ts';
import { parseJson } from './argument-parsers.ts';
import type { CommandContext, GlobalOptions } from './command-context.ts';
import { table } from './output.ts';
import { isRunnable, runnableName } from './run.ts';

/** The API's callables by name: `callables` lists them, `call` runs any one. */

export function registerCallableCommands({ program, action, stdout }: CommandContext): void {
  program
    .command('callables')
    .description('every callable of the API: role, whether it changes state, summary')
    .action(() => {
      const rows = callableNames.map((name) => {
        const spec = callableRegistry[name];
        return {
          name,
          role: spec.role,
          mutates: spec.mutates,
          available: isRunnable(name),
          summary: spec.summary,
        };
      });
      const json = (program.opts() as GlobalOptions).json ?? false;
      stdout.write(
        json
          ? `${JSON.stringify(rows, null, 2)}\n`
          : `${table(
              ['callable', 'role', 'changes', 'in CLI', 'what'],
              rows.map((r) => [r.name, r.role, r.mutates, r.available, r.summary]),
            )}\n`,
      );
    });

  program
    .command('call')
    .description('run any callable by name with a JSON input (see: tollgate callables)')
    .argument('<name>', 'callable name')
    .argument('[input]', 'its input as JSON (default {})')
    .action(
      action(async (run, name: string, input: string | undefined) => {
        const callable = runnableName(name);
        const data = input === undefined ? {} : parseJson('[input]', input);
        const result = await run.call(callable, data);
        stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      }),
    );
}
