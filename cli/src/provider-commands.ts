import { Argument } from 'commander';
import { collect, namedValues, number, parseJson } from './argument-parsers.ts';
import type { CommandContext } from './command-context.ts';
import {
  renderClearCooldown,
  renderMaintenance,
  renderPurge,
  renderSetProviderLimits,
  renderStartCooldown,
} from './render-changes.ts';

/**
 * The providers and their calls: `cooldown clear|start`, `provider set`, `maintenance` and
 * `queues purge`.
 */

export function registerProviderCommands({ program, action }: CommandContext): void {
  const cooldown = program.command('cooldown').description('provider cooldowns');
  cooldown
    .command('clear')
    .description("end a provider's cooldown now (clearCooldown)")
    .argument('<provider>', 'provider id')
    .action(
      action(async (run, provider: string) => {
        run.print(await run.call('clearCooldown', { provider }), renderClearCooldown);
      }),
    );
  cooldown
    .command('start')
    .description('start a cooldown by hand: no call to the provider until it ends (startCooldown)')
    .argument('<provider>', 'provider id')
    .requiredOption('--seconds <n>', 'how long from now', number('--seconds'))
    .requiredOption('--reason <text>', 'why (kept in the audit log and the history)')
    .action(
      action(async (run, provider: string, opts: { seconds: number; reason: string }) => {
        const input = { provider, seconds: opts.seconds, reason: opts.reason };
        run.print(await run.call('startCooldown', input), renderStartCooldown);
      }),
    );

  const provider = program.command('provider').description('providers: limits and settings');
  provider
    .command('set')
    .description("change a provider's limits, cooldowns, URLs or settings (setProviderLimits)")
    .argument('<provider>', 'provider id (created when absent: give --limits)')
    .option(
      '--limits <json>',
      'the limits, e.g. \'[{"kind":"tokenBucket","capacity":300,"refillPerSecond":5}]\'',
    )
    .option(
      '--cooldown-seconds <n>',
      'cooldown without a usable Retry-After',
      number('--cooldown-seconds'),
    )
    .option(
      '--max-retry-after-seconds <n>',
      'longest cooldown a Retry-After may ask',
      number('--max-retry-after-seconds'),
    )
    .option(
      '--safety-margin-ms <n>',
      'refill kept in reserve for jitter',
      number('--safety-margin-ms'),
    )
    .option('--base-url <url>', 'upstream base URL ("none" removes it)')
    .option('--endpoint <name=url...>', 'named upstream URLs (repeatable)', collect)
    .option('--setting <name=json...>', 'upstream settings, values as JSON (repeatable)', collect)
    .option('--display-name <text>', 'name shown in status')
    .action(
      action(
        async (
          run,
          id: string,
          opts: {
            limits?: string;
            cooldownSeconds?: number;
            maxRetryAfterSeconds?: number;
            safetyMarginMs?: number;
            baseUrl?: string;
            endpoint?: string[];
            setting?: string[];
            displayName?: string;
          },
        ) => {
          const input = {
            provider: id,
            ...(opts.limits === undefined ? {} : { limits: parseJson('--limits', opts.limits) }),
            ...(opts.cooldownSeconds === undefined
              ? {}
              : { cooldownSeconds: opts.cooldownSeconds }),
            ...(opts.maxRetryAfterSeconds === undefined
              ? {}
              : { maxRetryAfterSeconds: opts.maxRetryAfterSeconds }),
            ...(opts.safetyMarginMs === undefined ? {} : { safetyMarginMs: opts.safetyMarginMs }),
            ...(opts.baseUrl === undefined
              ? {}
              : { baseUrl: opts.baseUrl === 'none' ? null : opts.baseUrl }),
            ...(opts.endpoint
              ? { endpoints: namedValues('--endpoint', opts.endpoint, (v) => v) }
              : {}),
            ...(opts.setting
              ? {
                  settings: namedValues('--setting', opts.setting, (v) =>
                    parseJson('--setting', v),
                  ),
                }
              : {}),
            ...(opts.displayName === undefined ? {} : { displayName: opts.displayName }),
          };
          run.print(await run.call('setProviderLimits', input), renderSetProviderLimits);
        },
      ),
    );

  program
    .command('maintenance')
    .description('stop (on) or restart (off) every grant (setMaintenanceMode)')
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off']))
    .option('--reason <text>', 'kept in the audit log')
    .action(
      action(async (run, state: 'on' | 'off', opts: { reason?: string }) => {
        const input = {
          enabled: state === 'on',
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        };
        run.print(await run.call('setMaintenanceMode', input), renderMaintenance);
      }),
    );

  const queues = program.command('queues').description('the provider queues in Cloud Tasks');
  queues
    .command('purge')
    .description("drop every waiting task of a provider's queues, admin only (purgeProviderQueues)")
    .argument('<provider>', 'provider id')
    .requiredOption('--reason <text>', 'kept in the audit log')
    .action(
      action(async (run, provider: string, opts: { reason: string }) => {
        run.print(
          await run.call('purgeProviderQueues', { provider, reason: opts.reason }),
          renderPurge,
        );
      }),
    );
}
