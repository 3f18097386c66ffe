import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseJson, readJson, readText, send } from '../http-json.ts';
import type { Scheduler } from './scheduler.ts';

/** A sandbox upstream as the control plane sees it: its counters, and misbehaviour on demand. */
export interface ControlledSandbox {
  state(): unknown;
  misbehave(mode: string, operation?: string): void;
}

/**
 * The local stack's control plane over HTTP: the schedules (`GET /schedules`: the mode, each
 * function's cron and next run, the recent fires) and on-demand firing (`POST
 * /schedules/<name>/fire`, optionally `{"at":"2026-05-01T18:00:00Z"}`: the time the execution is
 * for; `npm run fire -- <name> [--at <time>]`), and the sandbox upstreams' state and
 * misbehaviour (`POST /sandboxes/<name>/misbehave {"mode":"429"}`).
 */
export function startControlServer(
  scheduler: () => Scheduler | undefined,
  host: string,
  port: number,
  sandboxes: () => Record<string, ControlledSandbox> = () => ({}),
): Promise<Server> {
  const server = createServer((req, res) => {
    route(req, res, scheduler(), sandboxes()).catch((error: Error) => {
      send(res, 500, { error: error.message });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  scheduler: Scheduler | undefined,
  sandboxes: Record<string, ControlledSandbox>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/schedules') {
    return send(res, 200, {
      mode: scheduler?.mode,
      schedules: scheduler?.nextRuns() ?? [],
      history: scheduler?.history,
    });
  }
  const fire = /^\/schedules\/([A-Za-z0-9_-]+)\/fire$/.exec(url.pathname);
  if (req.method === 'POST' && fire) {
    if (!scheduler) return send(res, 503, { error: 'scheduler not started yet' });
    const text = await readText(req);
    const body = fireSchema.safeParse(text.trim() === '' ? {} : parseJson(text));
    if (!body.success) {
      const problems = body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
      return send(res, 400, { error: problems.join('; ') });
    }
    const at = body.data.at === undefined ? undefined : new Date(body.data.at);
    try {
      return send(res, 200, await scheduler.fireNow(fire[1]!, { at }));
    } catch (error) {
      return send(res, 404, { error: (error as Error).message });
    }
  }
  if (req.method === 'GET' && url.pathname === '/sandboxes') {
    return send(
      res,
      200,
      Object.fromEntries(Object.entries(sandboxes).map(([name, s]) => [name, s.state()])),
    );
  }
  const misbehave = /^\/sandboxes\/([a-z-]+)\/misbehave$/.exec(url.pathname);
  if (req.method === 'POST' && misbehave) {
    const sandbox = sandboxes[misbehave[1]!];
    if (!sandbox) return send(res, 404, { error: `no sandbox ${misbehave[1]}` });
    const body = misbehaveSchema.safeParse(await readJson(req));
    if (!body.success) return send(res, 400, { error: body.error.message });
    sandbox.misbehave(body.data.mode, body.data.operation);
    return send(res, 200, sandbox.state());
  }
  send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
}

/** An empty body fires as of now; `at` is an RFC 3339 time with its offset (`Z` or `+02:00`). */
const fireSchema = z.object({
  at: z.iso
    .datetime({
      offset: true,
      error: 'an RFC 3339 time with its offset, e.g. 2026-05-01T18:00:00Z',
    })
    .optional(),
});
const misbehaveSchema = z.object({ mode: z.string().min(1), operation: z.string().optional() });
