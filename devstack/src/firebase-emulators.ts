import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const EMULATED = 'functions,tasks,auth,hosting';

export interface EmulatorPorts {
  functions: number;
  auth: number;
  hosting: number;
  tasks: number;
  hub: number;
  logging: number;
}

/** The ports firebase.json assigns, which `npm start` uses. */
export function configuredPorts(projectDir: string): EmulatorPorts {
  const emulators = JSON.parse(readFileSync(join(projectDir, 'firebase.json'), 'utf8')).emulators;
  return {
    functions: emulators.functions.port,
    auth: emulators.auth.port,
    hosting: emulators.hosting.port,
    tasks: emulators.tasks.port,
    hub: emulators.hub.port,
    logging: emulators.logging.port,
  };
}

/**
 * firebase-tools reads ports from its config file, so tests on free ports get a copy of
 * firebase.json beside the original (paths in it are relative to the project directory).
 */
export function writeConfigWithPorts(projectDir: string, ports: EmulatorPorts): string {
  const config = JSON.parse(readFileSync(join(projectDir, 'firebase.json'), 'utf8'));
  for (const [name, port] of Object.entries(ports)) {
    config.emulators[name] = { ...config.emulators[name], port };
  }
  const path = join(projectDir, `.firebase.${process.pid}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/**
 * firebase-functions itself resolves the boolean `enforceAppCheck` param when the functions
 * load and warns for each callable (an upstream report); not the project's code, so a newcomer
 * sees one line about it instead of one per callable.
 */
const UPSTREAM_PARAM_WARNING =
  /params\.ENFORCE_APP_CHECK\.value\(\) invoked during function deployment/;

/**
 * Runs `firebase emulators:start` from the devDependency in its own process group, so
 * stopping it also stops every function worker it spawned.
 */
export function spawnEmulators(options: {
  projectDir: string;
  projectId: string;
  configPath: string;
  env: Record<string, string>;
  onLine: (line: string) => void;
}): ChildProcess {
  // On this process's Node, the project's own (see README: Node), never whatever `node` the
  // PATH has: the Functions emulator runs the functions on the Node it was started with.
  const cli = join(
    options.projectDir,
    'node_modules',
    'firebase-tools',
    'lib',
    'bin',
    'firebase.js',
  );
  const child = spawn(
    process.execPath,
    [
      cli,
      'emulators:start',
      '--only',
      EMULATED,
      '--project',
      options.projectId,
      '--config',
      options.configPath,
    ],
    {
      cwd: options.projectDir,
      env: {
        ...process.env,
        ...options.env,
        // firebase-tools' own calls out: the message of the day it fetches unless in CI, and
        // the latest firebase-functions version it asks npm for (answered from npm's cache).
        CI: 'true',
        npm_config_offline: 'true',
        // Seconds a new function worker may take to load before the emulator gives up on it
        // ("Failed to load function.") and fails the request it was for: 30 by default, which
        // a burst of workers loading at once on a busy 2-core machine exceeded (a callable of
        // the dashboard test failed so, twice). Production has no such limit to hit.
        FUNCTIONS_DISCOVERY_TIMEOUT: process.env.FUNCTIONS_DISCOVERY_TIMEOUT ?? '120',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let noted = false;
  const onLine = (line: string) => {
    if (!UPSTREAM_PARAM_WARNING.test(line)) return options.onLine(line);
    if (noted) return;
    noted = true;
    options.onLine(
      'functions: firebase-functions warns once per callable that a boolean param was read at load; its own doing (enforceAppCheck), harmless; left out',
    );
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', onLine);
  }
  return child;
}

/** SIGINT lets firebase-tools shut its emulators down; SIGKILL the group if it lingers. */
export async function stopProcessGroup(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = once(child, 'exit');
  signalGroup(child.pid, 'SIGINT');
  const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  signalGroup(child.pid, 'SIGKILL'); // stragglers: function workers that ignored SIGINT
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
