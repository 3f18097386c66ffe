import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { readJson, send, TOO_LARGE } from '../../http-json.ts';
import type { DiscoveredQueue } from './discover.ts';
import { LocalQueue } from './queue.ts';
import { MAX_CONCURRENT_DISPATCHES, MAX_DISPATCHES_PER_SECOND } from './queue-rules.ts';
import type { Clock, Dispatcher, QueuedTask } from './queue-types.ts';

/**
 * The local stack's Cloud Tasks. firebase-tools' Tasks emulator dispatches every task at once
 * (schedule times ignored) and serves no admin API, so the stack puts this in its place for
 * everything that enqueues (the functions, the CLI, the stack itself) and dispatches to the
 * task-queue functions on the Functions emulator. It speaks two of Cloud Tasks' dialects:
 *
 * - the enqueue API firebase-admin's `taskQueue()` uses against an emulator
 *   (`POST /projects/<p>/locations/<l>/queues/<q>/tasks`, `DELETE .../tasks/<id>`);
 * - the subset of the Cloud Tasks REST API (v2beta3, and v2 without stats) that
 *   `@google-cloud/tasks` calls for queue administration: get (with `stats` in the read mask),
 *   patch of `rate_limits`, pause, resume and purge;
 * - and `GET /queueStats`: every queue's state, stats and totals (not Cloud Tasks' API).
 */
export class LocalCloudTasks {
  private readonly queues = new Map<string, LocalQueue>();

  constructor(
    projectId: string,
    discovered: readonly DiscoveredQueue[],
    targetUrl: (queue: DiscoveredQueue) => string,
    options: {
      dispatch?: Dispatcher;
      clock?: Clock;
      log?: (line: string) => void;
    } = {},
  ) {
    const dispatch = options.dispatch ?? httpDispatch;
    const log = options.log ?? (() => undefined);
    for (const queue of discovered) {
      const name = `projects/${projectId}/locations/${queue.region}/queues/${queue.functionName}`;
      this.queues.set(
        name,
        new LocalQueue(
          {
            name,
            rateLimits: queue.rateLimits,
            retryConfig: queue.retryConfig,
            defaultUri: targetUrl(queue),
          },
          dispatch,
          options.clock,
          (task, reason) => log(`cloud tasks: ${name}: dropped ${task.name}: ${reason}`),
        ),
      );
    }
  }

  queue(name: string): LocalQueue | undefined {
    return this.queues.get(name);
  }

  list(): LocalQueue[] {
    return [...this.queues.values()];
  }

  stop(): void {
    for (const queue of this.queues.values()) queue.stop();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return fail(res, 400, 'INVALID_ARGUMENT', `malformed escape in path ${url.pathname}`);
    }
    const enumsAsInts = (url.searchParams.get('$alt') ?? '').includes('enum-encoding=int');

    if (req.method === 'GET' && path === '/queueStats') {
      // Not Cloud Tasks' API (firebase-tools' Tasks emulator has the same route): each queue's
      // state, waiting tasks and totals since the stack started, for tests and the curious.
      return send(
        res,
        200,
        Object.fromEntries(
          this.list().map((q) => [
            q.id,
            { state: q.state, ...q.config.rateLimits, ...q.stats(), ...q.totals },
          ]),
        ),
      );
    }
    const tasks =
      /^\/(projects\/[^/]+\/locations\/[^/]+\/queues\/[^/]+)\/tasks(?:\/([^/]+))?$/.exec(path);
    if (tasks) {
      const queue = this.queues.get(tasks[1]!);
      if (!queue) return fail(res, 404, 'NOT_FOUND', `Queue does not exist: ${tasks[1]}`);
      if (req.method === 'POST' && !tasks[2]) return this.enqueue(queue, req, res);
      if (req.method === 'DELETE' && tasks[2]) {
        return queue.delete(`${tasks[1]}/tasks/${tasks[2]}`)
          ? send(res, 200, {})
          : fail(res, 404, 'NOT_FOUND', `Task does not exist: ${tasks[2]}`);
      }
      return fail(res, 405, 'UNIMPLEMENTED', `${req.method} is not served on tasks`);
    }

    const admin =
      /^\/(v2|v2beta3)\/(projects\/[^/]+\/locations\/[^/]+\/queues\/[^/:]+)(?::(pause|resume|purge))?$/.exec(
        path,
      );
    if (!admin) return fail(res, 404, 'NOT_FOUND', `no route ${req.method} ${path}`);
    const [, version, name, verb] = admin;
    const queue = this.queues.get(name!);
    if (!queue) return fail(res, 404, 'NOT_FOUND', `Queue does not exist: ${name}`);
    const withStats = version === 'v2beta3';
    if (req.method === 'GET' && !verb) {
      const mask = (url.searchParams.get('readMask') ?? '').split(',').filter(Boolean);
      return send(res, 200, queueResource(queue, enumsAsInts, withStats && mask.includes('stats')));
    }
    if (req.method === 'PATCH' && !verb) {
      const problem = updateRateLimits(
        queue,
        (url.searchParams.get('updateMask') ?? '').split(',').filter(Boolean),
        await readJson(req, MAX_ADMIN_BODY_BYTES),
      );
      if (problem) return fail(res, 400, 'INVALID_ARGUMENT', problem);
      return send(res, 200, queueResource(queue, enumsAsInts, false));
    }
    if (req.method === 'POST' && verb) {
      if (verb === 'pause') queue.pause();
      if (verb === 'resume') queue.resume();
      if (verb === 'purge') queue.purge();
      return send(res, 200, queueResource(queue, enumsAsInts, false));
    }
    fail(res, 405, 'UNIMPLEMENTED', `${req.method} ${path} is not served`);
  }

  private async enqueue(
    queue: LocalQueue,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const body = await readJson(req, MAX_REQUEST_BYTES);
    if (body === TOO_LARGE) {
      return fail(res, 400, 'INVALID_ARGUMENT', `Task size exceeds ${MAX_TASK_BYTES} bytes`);
    }
    const parsed = enqueueSchema.safeParse(body);
    if (!parsed.success) return fail(res, 400, 'INVALID_ARGUMENT', z.prettifyError(parsed.error));
    const { task } = parsed.data;
    const problem = taskProblem(queue, task, Date.now());
    if (problem) return fail(res, 400, 'INVALID_ARGUMENT', problem);
    const added = queue.add({
      name: task.name,
      url: task.httpRequest.url,
      body: Buffer.from(task.httpRequest.body ?? '', 'base64').toString('utf8'),
      headers: task.httpRequest.headers,
      scheduleTimeMs: task.scheduleTime ? Date.parse(task.scheduleTime) : undefined,
      dispatchDeadlineSeconds: task.dispatchDeadline
        ? Number.parseFloat(task.dispatchDeadline)
        : undefined,
    });
    if (!added) {
      return fail(res, 409, 'ALREADY_EXISTS', `Requested entity already exists: ${task.name}`);
    }
    send(res, 200, { name: added.name, scheduleTime: new Date(added.dueMs).toISOString() });
  }
}

/** A queue patch is a few rate fields. */
const MAX_ADMIN_BODY_BYTES = 64 * 1024;

/** Cloud Tasks' limits on a task: "Maximum task size: 1 MB" (its body, base64 on the wire). */
const MAX_TASK_BYTES = 1_000_000;
const MAX_REQUEST_BYTES = Math.ceil((MAX_TASK_BYTES * 4) / 3) + 64 * 1024;
/** "The maximum schedule time is 30 days in the future." */
const MAX_SCHEDULE_AHEAD_MS = 30 * 86_400_000;
/** HTTP targets: a dispatch deadline from 15 seconds to 30 minutes. */
const DEADLINE_SECONDS = { min: 15, max: 1800 };
const TASK_ID = /^[A-Za-z0-9_-]{1,500}$/;

/** What Cloud Tasks would refuse in a new task (INVALID_ARGUMENT), as a message. */
function taskProblem(
  queue: LocalQueue,
  task: z.infer<typeof enqueueSchema>['task'],
  nowMs: number,
): string | undefined {
  if (task.name !== undefined) {
    const prefix = `${queue.config.name}/tasks/`;
    if (!task.name.startsWith(prefix) || !TASK_ID.test(task.name.slice(prefix.length))) {
      return `Task name must be ${prefix}<id>, the id of letters, digits, - and _ (at most 500): ${task.name}`;
    }
  }
  const bytes = Buffer.byteLength(task.httpRequest.body ?? '', 'base64');
  if (bytes > MAX_TASK_BYTES) return `Task size ${bytes} bytes exceeds ${MAX_TASK_BYTES} bytes`;
  if (task.scheduleTime && Date.parse(task.scheduleTime) > nowMs + MAX_SCHEDULE_AHEAD_MS) {
    return `The schedule time ${task.scheduleTime} is more than 30 days in the future`;
  }
  if (task.dispatchDeadline) {
    const seconds = Number.parseFloat(task.dispatchDeadline);
    if (seconds < DEADLINE_SECONDS.min || seconds > DEADLINE_SECONDS.max) {
      return `dispatch_deadline must be between ${DEADLINE_SECONDS.min}s and ${DEADLINE_SECONDS.max}s: ${task.dispatchDeadline}`;
    }
  }
  return undefined;
}

/** Serves a LocalCloudTasks on host:port (0: any free port). */
export function serveCloudTasks(
  tasks: LocalCloudTasks,
  host: string,
  port: number,
): Promise<{ server: Server; hostPort: string }> {
  const server = createServer((req, res) => {
    tasks.handle(req, res).catch((error: Error) => fail(res, 500, 'INTERNAL', error.message));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({ server, hostPort: `${host}:${(server.address() as AddressInfo).port}` }),
    );
  });
}

const enqueueSchema = z.object({
  task: z.object({
    name: z.string().optional(),
    scheduleTime: z.iso.datetime({ offset: true }).optional(),
    dispatchDeadline: z
      .string()
      .regex(/^\d+(\.\d+)?s$/)
      .optional(),
    httpRequest: z.object({
      url: z.string().optional(),
      body: z.string().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    }),
  }),
});

const RATE_MASK: Record<string, 'maxDispatchesPerSecond' | 'maxConcurrentDispatches'> = {
  'rate_limits.max_dispatches_per_second': 'maxDispatchesPerSecond',
  'rateLimits.maxDispatchesPerSecond': 'maxDispatchesPerSecond',
  'rate_limits.max_concurrent_dispatches': 'maxConcurrentDispatches',
  'rateLimits.maxConcurrentDispatches': 'maxConcurrentDispatches',
};

/** Applies a queue patch's rate limits as Cloud Tasks validates them; returns a problem. */
function updateRateLimits(queue: LocalQueue, mask: string[], body: unknown): string | undefined {
  if (mask.length === 0) return 'update_mask is required: only rate_limits fields are served';
  const limits = (body as { rateLimits?: Record<string, unknown> } | undefined)?.rateLimits ?? {};
  const update: Partial<Record<'maxDispatchesPerSecond' | 'maxConcurrentDispatches', number>> = {};
  for (const path of mask) {
    const field = RATE_MASK[path];
    if (!field) return `update_mask path ${path} is not served (only rate_limits)`;
    const value = Number(limits[field]);
    const max =
      field === 'maxDispatchesPerSecond' ? MAX_DISPATCHES_PER_SECOND : MAX_CONCURRENT_DISPATCHES;
    const valid =
      Number.isFinite(value) &&
      value > 0 &&
      value <= max &&
      (field === 'maxDispatchesPerSecond' || Number.isInteger(value));
    if (!valid) return `rate_limits.${field} must be in (0, ${max}]; got ${limits[field]}`;
    update[field] = value;
  }
  queue.updateRateLimits(update);
  return undefined;
}

const STATE_NUMBER = { RUNNING: 1, PAUSED: 2 } as const;

/** A Queue resource as the Cloud Tasks REST API returns it. */
function queueResource(queue: LocalQueue, enumsAsInts: boolean, withStats: boolean) {
  const { rateLimits, retryConfig } = queue.config;
  const stats = withStats ? queue.stats() : undefined;
  return {
    name: queue.config.name,
    httpTarget: { uriOverride: { path: { path: new URL(queue.config.defaultUri).pathname } } },
    rateLimits,
    retryConfig: {
      maxAttempts: retryConfig.maxAttempts,
      maxRetryDuration: `${retryConfig.maxRetrySeconds}s`,
      minBackoff: `${retryConfig.minBackoffSeconds}s`,
      maxBackoff: `${retryConfig.maxBackoffSeconds}s`,
      maxDoublings: retryConfig.maxDoublings,
    },
    state: enumsAsInts ? STATE_NUMBER[queue.state] : queue.state,
    ...(queue.purgeTimeMs === undefined
      ? {}
      : { purgeTime: new Date(queue.purgeTimeMs).toISOString() }),
    ...(stats && {
      stats: {
        tasksCount: String(stats.tasksCount),
        ...(stats.oldestEstimatedArrivalTimeMs !== undefined && {
          oldestEstimatedArrivalTime: new Date(stats.oldestEstimatedArrivalTimeMs).toISOString(),
        }),
        executedLastMinuteCount: String(stats.executedLastMinuteCount),
        concurrentDispatchesCount: String(stats.concurrentDispatchesCount),
        effectiveExecutionRate: stats.effectiveExecutionRate,
      },
    }),
  };
}

/** POSTs a task to its target, as Cloud Tasks does, within its dispatch deadline. */
const httpDispatch: Dispatcher = async (task: QueuedTask, headers) => {
  try {
    const response = await fetch(task.url, {
      method: 'POST',
      headers,
      body: task.body,
      signal: AbortSignal.timeout(task.dispatchDeadlineSeconds * 1000),
    });
    await response.arrayBuffer();
    return { status: response.status };
  } catch {
    return {};
  }
};

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code: status, message, status: code } });
}
