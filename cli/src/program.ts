import { readFile } from 'node:fs/promises';
import { Argument, Command, CommanderError, InvalidArgumentError } from 'commander';
import type { Actor } from '../../functions/src/core/operations/index.ts';
// Values from the API's own modules (see errors.ts).
import { callableNames, callableRegistry } from '../../functions/src/core/operations/registry.ts';
import { ROLES, type Role } from '../../functions/src/core/operations/roles.ts';
import { type Failure, toFailure, UsageError } from './errors.ts';
import { exportWithProgress, importWithAudit, observeProductPages, productCount } from './jobs.ts';
import { noProgress, type Progress, type Stream, table, terminalProgress } from './output.ts';
import {
  renderAuditLog,
  renderCategoryChange,
  renderClearCooldown,
  renderCollection,
  renderCollections,
  renderExport,
  renderFlags,
  renderFlush,
  renderImport,
  renderMaintenance,
  renderPurge,
  renderRestartCollection,
  renderRole,
  renderSetProviderLimits,
  renderStartCollection,
  renderStartCooldown,
  renderStats,
  renderStatus,
  renderValidation,
  renderValidationReport,
  renderWarnings,
} from './render.ts';
import { PROGRESS_FROM_MS, parseReplayTime, readPolicyFile, renderReplay } from './replay.ts';
import { isRunnable, type Runnable, runnableName, runOperation } from './run.ts';
import {
  adcPrincipal,
  type Connect,
  cliActor,
  connectAdmin,
  type Env,
  type ResolvePrincipal,
  resolveTarget,
  type Session,
} from './session.ts';

/** The actor of a read (nothing is audited, so nobody is looked up). */
const READER: Actor = { uid: 'cli', email: null, role: 'admin' };

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export interface CliOptions {
  stdout: Stream;
  stderr: Stream;
  /** process.env by default; `--local` and `--project` set variables in it. */
  env?: Env;
  /** Opens the project (default: firebase-admin with the target's credentials). */
  connect?: Connect;
  /** Progress bars (default: cli-progress on a terminal stderr; none otherwise). */
  progress?: Progress;
  /**
   * Who the CLI acts as (default: the signed-in Application Default Credentials principal;
   * the local stack's explicit local actor with `--local`).
   */
  principal?: ResolvePrincipal;
}

interface GlobalOptions {
  project?: string;
  local?: boolean;
  json?: boolean;
  progress?: boolean;
  verbose?: boolean;
}

/** What a command's action gets: the session (opened on first use), the actor, output. */
interface Run {
  session(): Promise<Session>;
  /** Looked up on first use (the ADC principal). */
  actor(): Promise<Actor>;
  json: boolean;
  progress: Progress;
  call<N extends Runnable>(
    name: N,
    input: unknown,
    overrides?: Parameters<typeof runOperation>[4],
  ): ReturnType<typeof runOperation<N>>;
  /** The result: JSON with --json, else the human rendering. */
  print<T>(value: T, human: (value: T) => string): void;
}

function number(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${what} must be a number`);
    }
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `takealot=800 makro=400` -> { takealot: 800, makro: 400 }; the schema checks the counts. */
export function parseTargets(pairs: readonly string[]): Record<string, number> {
  const targets: Record<string, number> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    const marketplace = pair.slice(0, at);
    const count = pair.slice(at + 1);
    if (at <= 0 || count.trim() === '' || !Number.isFinite(Number(count))) {
      throw new UsageError(`--target takes marketplace=count, not "${pair}"`);
    }
    if (Object.hasOwn(targets, marketplace)) {
      throw new UsageError(`--target ${marketplace} is given twice`);
    }
    Object.defineProperty(targets, marketplace, {
      value: Number(count),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return targets;
}

/** A value as JSON when it parses (numbers, booleans, objects), else the text itself. */
function looseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * `--set key=value`: a flag (`maxAwaitSeconds=30`, or `flags.maxAwaitSeconds=30`) or a
 * pipeline setting (`pipeline.collections.stalledAfterMinutes=90`), as setFlags' input.
 */
export function parseFlagSettings(settings: readonly string[]): {
  flags?: Record<string, unknown>;
  pipeline?: Record<string, Record<string, unknown>>;
} {
  const flags: Record<string, unknown> = {};
  const pipeline: Record<string, Record<string, unknown>> = {};
  const put = (target: Record<string, unknown>, key: string, value: unknown) =>
    Object.defineProperty(target, key, { value, enumerable: true, writable: true });
  for (const setting of settings) {
    const at = setting.indexOf('=');
    if (at <= 0) throw new UsageError(`--set takes key=value, not "${setting}"`);
    const path = setting.slice(0, at).split('.');
    const value = looseValue(setting.slice(at + 1));
    if (path[0] === 'pipeline') {
      if (path.length !== 3 || !path[1] || !path[2]) {
        throw new UsageError(`--set pipeline.<section>.<field>=value, not "${setting}"`);
      }
      if (!Object.hasOwn(pipeline, path[1])) put(pipeline, path[1], {});
      put(pipeline[path[1]]!, path[2], value);
    } else {
      const key = path[0] === 'flags' ? path.slice(1) : path;
      if (key.length !== 1 || !key[0]) throw new UsageError(`--set: no flag "${path.join('.')}"`);
      put(flags, key[0], value);
    }
  }
  return {
    ...(Object.keys(flags).length > 0 ? { flags } : {}),
    ...(Object.keys(pipeline).length > 0 ? { pipeline } : {}),
  };
}

function describeFailure(failure: Failure): string {
  const lines = [`error (${failure.code}): ${failure.message}`];
  if (failure.issues && failure.issues.length > 1) {
    for (const issue of failure.issues)
      lines.push(`  ${issue.path || '(input)'}: ${issue.message}`);
  }
  return lines.join('\n');
}

const HELP_FOOTER = `
Targets:
  --local              the local stack (npm start): emulators on 127.0.0.1 (Firestore 8080,
                       Auth 9099, Cloud Tasks 9498) and project demo-tollgate, unless the
                       environment already names them
  --project <id>       a real project with Application Default Credentials
                       (gcloud auth application-default login)

Every change runs the same operation as its callable and writes the same audit entry
(actor uid "cli", role admin, email: the Application Default Credentials principal; with
--local, the local stack's fixed local-cli@demo-tollgate.invalid).

Exit codes: 0 ok, 1 error (message on stderr, naming the field for invalid input), 2 usage.`;

/**
 * Runs the CLI on `argv` (without node and the script) and answers the exit code. Nothing is
 * written to the process: output goes to `options.stdout` / `stderr`, so tests run it in
 * process against their own Firestore.
 */
export async function runCli(argv: readonly string[], options: CliOptions): Promise<number> {
  const env = options.env ?? process.env;
  const connect = options.connect ?? connectAdmin;
  const principal = options.principal ?? adcPrincipal();
  const { stdout, stderr } = options;
  let jsonErrors = argv.includes('--json');

  const program = new Command('tollgate')
    .description('Operate Tollgate: quotas, allocations, collections, flags, backups')
    .option('--project <id>', 'the Firebase project (Application Default Credentials)')
    .option('--local', 'the local stack (emulators on their firebase.json ports, demo-tollgate)')
    .option('--json', 'machine output: the operation answer as JSON on stdout')
    .option('--no-progress', 'no progress bars')
    .option('--verbose', "the functions code's logs (on stdout)")
    .addHelpText('after', HELP_FOOTER)
    .showHelpAfterError('(tollgate --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      writeErr: (s) => stderr.write(s),
    });

  /**
   * Runs a command's body. The session opens on first use, so a command line the body refuses
   * (UsageError) fails before anything connects; it is closed whatever happens.
   */
  const action =
    <A extends unknown[]>(body: (run: Run, ...args: A) => Promise<void>) =>
    async (...args: A) => {
      const command = args[args.length - 1] as Command;
      const globals = command.optsWithGlobals() as GlobalOptions;
      const json = globals.json ?? false;
      jsonErrors = json;
      const target = resolveTarget({ project: globals.project, local: globals.local }, env);
      const progress =
        json || globals.progress === false
          ? noProgress
          : (options.progress ??
            (process.stderr.isTTY && stderr === process.stderr
              ? terminalProgress(process.stderr)
              : noProgress));
      let opened: Promise<Session> | undefined;
      const session = () => {
        opened ??= connect(target);
        return opened;
      };
      let resolved: Promise<Actor> | undefined;
      const actor = () => {
        resolved ??= principal(target).then(cliActor);
        return resolved;
      };
      const run: Run = {
        session,
        actor,
        json,
        progress,
        call: async (name, input, overrides) => {
          // Reads write no audit entry: they do not need to know who signed in.
          const spec = callableRegistry[name];
          const who = spec.mutates || spec.auditsReads ? await actor() : READER;
          return runOperation(await session(), who, name, input, overrides);
        },
        print: (value, human) => {
          stdout.write(`${json ? JSON.stringify(value, null, 2) : human(value)}\n`);
        },
      };
      try {
        await body(run, ...(args.slice(0, -1) as A));
      } finally {
        if (opened) await (await opened.catch(() => undefined))?.close();
      }
    };

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

  program
    .command('role')
    .description("set a user's role claim (setUserRole)")
    .argument('<uid>', 'Firebase Auth uid')
    .addArgument(new Argument('<role>', 'the role').choices([...ROLES, 'none']))
    .action(
      action(async (run, uid: string, role: Role | 'none') => {
        const input = { uid, role: role === 'none' ? null : role };
        run.print(await run.call('setUserRole', input), renderRole);
      }),
    );

  program
    .command('export')
    .description(
      'back up configuration and state to a local file (checksummed JSON; the exportBackup callable writes to Cloud Storage)',
    )
    .option('--out <file>', 'the file to write (default: stdout)')
    .action(
      action(async (run, opts: { out?: string }) => {
        const { deps, projectId } = await run.session();
        const exported = await exportWithProgress(deps.db, {
          projectId,
          now: deps.now,
          progress: run.progress,
          actor: await run.actor(),
          out: opts.out ?? null,
          stdout,
        });
        const summary = {
          out: exported.out,
          documents: exported.documents,
          byCollection: exported.byCollection,
          checksum: exported.checksum,
          sha256: exported.sha256,
          bytes: exported.bytes,
          auditId: exported.auditId,
        };
        if (opts.out === undefined) {
          // The backup is the output; the summary goes to stderr.
          if (!run.json) stderr.write(`${renderExport(summary)}\n`);
          return;
        }
        run.print(summary, renderExport);
      }),
    );

  program
    .command('import')
    .description(
      'restore a backup file; a changed, truncated, corrupted or hostile file changes nothing',
    )
    .argument(
      '<file>',
      'a file written by tollgate export (or downloaded from an exportBackup object)',
    )
    .option('--dry-run', 'verify and count only; write nothing')
    .action(
      action(async (run, file: string, opts: { dryRun?: boolean }) => {
        const bytes = await readFile(file);
        const { deps } = await run.session();
        const result = await importWithAudit(deps.db, bytes, {
          dryRun: opts.dryRun ?? false,
          actor: await run.actor(),
          now: deps.now,
          progress: run.progress,
        });
        run.print(result, renderImport);
      }),
    );

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

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help exits 0; everything else commander refuses (help shown for a missing command
      // included) is a usage error.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      stderr.write(`error: ${error.message}\n(tollgate --help for usage)\n`);
      return EXIT_USAGE;
    }
    const failure = toFailure(error);
    stderr.write(
      jsonErrors ? `${JSON.stringify({ error: failure })}\n` : `${describeFailure(failure)}\n`,
    );
    return EXIT_ERROR;
  }
  return EXIT_OK;
}

function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** An instant given as ISO 8601 (a date, or a date and time with its zone), as epoch ms. */
function parseTime(what: string, text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${what} takes an ISO 8601 time, not "${text}"`);
  return ms;
}

/** `name=value` pairs (the value parsed by `value`), each name once. */
function namedValues<T>(
  what: string,
  pairs: readonly string[],
  value: (text: string) => T,
): Record<string, T> {
  const out: Record<string, T> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`${what} takes name=value, not "${pair}"`);
    const name = pair.slice(0, at);
    if (Object.hasOwn(out, name)) throw new UsageError(`${what} ${name} is given twice`);
    out[name] = value(pair.slice(at + 1));
  }
  return out;
}
