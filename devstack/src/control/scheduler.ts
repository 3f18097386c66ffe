import { createRequire } from 'node:module';
import { Cron } from 'croner';
import { toCron } from './schedule.ts';

export interface ScheduledFunction {
  name: string;
  region: string;
  schedule: string;
  timeZone: string;
  cron: string;
}

interface Endpoint {
  region?: string[];
  scheduleTrigger?: { schedule: string; timeZone?: string | null };
}

/** Reads the onSchedule functions, with their cron and time zone, from the built functions. */
export function discoverSchedules(functionsMain: string): ScheduledFunction[] {
  const exports = createRequire(import.meta.url)(functionsMain) as Record<
    string,
    { __endpoint?: Endpoint }
  >;
  return Object.entries(exports).flatMap(([name, fn]) => {
    const trigger = fn?.__endpoint?.scheduleTrigger;
    if (!trigger) return [];
    return [
      {
        name,
        region: fn.__endpoint?.region?.[0] ?? 'us-central1',
        schedule: trigger.schedule,
        timeZone: trigger.timeZone ?? 'UTC',
        cron: toCron(trigger.schedule),
      },
    ];
  });
}

/**
 * POSTs to a scheduled function's trigger on the Functions emulator. The emulator names
 * event-style triggers `<name>-<generation>` (the generation grows on hot reload), so an
 * unknown name is resolved against the list the emulator answers with.
 */
export async function fireScheduled(
  functionsUrl: string,
  projectId: string,
  fn: Pick<ScheduledFunction, 'name' | 'region'>,
): Promise<{ status: number; body: string }> {
  const post = (id: string) =>
    fetch(`${functionsUrl}/${projectId}/${fn.region}/${id}`, { method: 'POST' }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
    );
  const first = await post(fn.name);
  if (first.status !== 404) return first;
  const pattern = new RegExp(`${fn.region}-(${fn.name}-\\d+)\\b`, 'g');
  const ids = [...first.body.matchAll(pattern)].map((m) => m[1]!);
  const latest = ids.sort((a, b) => generation(b) - generation(a))[0];
  return latest ? post(latest) : first;
}

function generation(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

export interface FireRecord {
  name: string;
  at: string;
  status: number;
  trigger: 'cron' | 'manual';
}

/** Fires each scheduled function on its own cron expression and time zone. */
export class Scheduler {
  private readonly jobs: Cron[] = [];
  readonly history: FireRecord[] = [];

  constructor(
    readonly functions: ScheduledFunction[],
    private readonly fire: (fn: ScheduledFunction) => Promise<{ status: number; body: string }>,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    for (const fn of this.functions) {
      this.jobs.push(
        new Cron(fn.cron, { timezone: fn.timeZone, protect: true }, () => {
          void this.run(fn, 'cron');
        }),
      );
    }
  }

  stop(): void {
    for (const job of this.jobs.splice(0)) job.stop();
  }

  nextRuns(): Array<ScheduledFunction & { nextRun: string | null }> {
    return this.functions.map((fn, i) => ({
      ...fn,
      nextRun: this.jobs[i]?.nextRun()?.toISOString() ?? null,
    }));
  }

  async fireNow(name: string): Promise<FireRecord> {
    const fn = this.functions.find((f) => f.name === name);
    if (!fn) throw new Error(`no scheduled function named "${name}"`);
    return this.run(fn, 'manual');
  }

  private async run(fn: ScheduledFunction, trigger: FireRecord['trigger']): Promise<FireRecord> {
    let status = 0;
    try {
      const result = await this.fire(fn);
      status = result.status;
      if (status >= 300) this.log(`schedule ${fn.name}: ${status} ${result.body.slice(0, 200)}`);
    } catch (error) {
      this.log(`schedule ${fn.name}: ${(error as Error).message}`);
    }
    const record = { name: fn.name, at: new Date().toISOString(), status, trigger };
    this.history.push(record);
    if (this.history.length > 200) this.history.shift();
    return record;
  }
}
