import { Command, CommanderError } from 'commander';
import type { Actor } from '../../functions/src/core/operations/index.ts';
// Values from the API's own modules (see errors.ts).
import { callableRegistry } from '../../functions/src/core/operations/registry.ts';
import { registerAdminCommands } from './admin-commands.ts';
import { registerAllocationCommands } from './allocation-commands.ts';
import { registerCallableCommands } from './callable-commands.ts';
import type { CommandContext, GlobalOptions, Run } from './command-context.ts';
import { type Failure, toFailure, UsageError } from './errors.ts';
import { noProgress, type Progress, type Stream, terminalProgress } from './output.ts';
import { registerPipelineCommands } from './pipeline-commands.ts';
import { registerProviderCommands } from './provider-commands.ts';
import { runOperation } from './run.ts';
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
import { registerStatusCommands } from './status-commands.ts';
import { registerUsageCommands } from './usage-commands.ts';

/**
 * The `tollgate` program: its global options and help, the action wrapper every command runs
 * in (session, actor, output), exit codes and errors. The commands themselves are registered
 * by the *-commands.ts modules, in the order help lists them.
 */

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

  const commands: CommandContext = { program, action, stdout, stderr };
  registerStatusCommands(commands);
  registerAllocationCommands(commands);
  registerProviderCommands(commands);
  registerPipelineCommands(commands);
  registerUsageCommands(commands);
  registerAdminCommands(commands);
  registerCallableCommands(commands);

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
