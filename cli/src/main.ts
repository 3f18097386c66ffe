/**
 * The `tollgate` command (bin/tollgate.js runs this file with tsx). The functions code logs
 * with pino on stdout, so its level is set before that code is loaded: silent unless
 * --verbose (or LOG_LEVEL says otherwise).
 */
const argv = process.argv.slice(2);
process.env.LOG_LEVEL ??= argv.includes('--verbose') ? 'info' : 'silent';

const { runCli } = await import('./program.ts');
const code = await runCli(argv, { stdout: process.stdout, stderr: process.stderr });
// Everything written reaches the pipe before the exit (gRPC channels would keep the process up).
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(code);
