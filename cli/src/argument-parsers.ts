import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors.ts';

/**
 * The command line's values read: numbers, repeatable options, `marketplace=count` targets,
 * `--set key=value` settings, JSON, ISO 8601 times and `name=value` pairs. A value it refuses
 * is a usage error (exit 2).
 */

export function number(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${what} must be a number`);
    }
    return n;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
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

export function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** An instant given as ISO 8601 (a date, or a date and time with its zone), as epoch ms. */
export function parseTime(what: string, text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${what} takes an ISO 8601 time, not "${text}"`);
  return ms;
}

/** `name=value` pairs (the value parsed by `value`), each name once. */
export function namedValues<T>(
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
