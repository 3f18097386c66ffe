import { z } from 'zod';
import { categorySchema, formatPath, type Provider, providerSchema } from '../config';
import { configuredPercent, isPaused } from '../quota/allocation';
import {
  FIRESTORE_OPS,
  type FirestoreOp,
  type OpLimits,
  type SelfQuotaOptions,
} from './self-quota';

/**
 * The Firestore self-quota's runtime configuration, from the documents the seed ships:
 *
 * - `providers/firestore`: its `window` limits of unit `second` and `minute` (measure `requests`
 *   or `cost`) are the write and delete limits per second and per minute (Firestore's
 *   throughput limits are write limits; reads are far cheaper to serve). Settings
 *   `readPerSecond`, `readPerMinute`, `writePerSecond`, ... `deletePerMinute` set one limit
 *   each and win over the windows. Other limits (hours, days, bytes, buckets) do not apply here.
 * - `categories/firestore-pipeline`: its share (the override when pinned) is the part of the
 *   soft limit heavy background work (ingest, validation, backups) may use before it is paced;
 *   100% paces it with the rest of the instance, 50% slows it from 40% of a limit on. Paused,
 *   or at its minimum, the work runs at the slowest pace (1%): it is never stopped here.
 *
 * Pure. An absent document means the defaults; an invalid one too, with the problem named, so
 * a typo in the console can neither stop the pipeline nor lift the limits.
 *
 * These limits are per instance, not the project's: every instance applies them to the
 * operations it makes itself (its own monitor), so N instances may together spend N times
 * them. Nothing is shared across the fleet; set them to the project's limit divided by the
 * most instances expected at once.
 */

export const FIRESTORE_PROVIDER = 'firestore';
export const FIRESTORE_PIPELINE_CATEGORY = 'firestore-pipeline';

/** The highest limits accepted (Firestore serves ~10,000 writes/s per database at most). */
export const MAX_SELF_QUOTA_PER_SECOND = 1_000_000;
export const MAX_SELF_QUOTA_PER_MINUTE = 60 * MAX_SELF_QUOTA_PER_SECOND;
/**
 * The lowest limits accepted: below one operation a second (or 60 a minute) a single read or
 * write puts the instance over its limit and it throttles for as long as there is traffic. A
 * lower value is refused like any invalid one (the defaults apply, with a warning).
 */
export const MIN_SELF_QUOTA_PER_SECOND = 1;
export const MIN_SELF_QUOTA_PER_MINUTE = 60;
/** The slowest pace: a paused pipeline category still lets heavy work move. */
export const MIN_BACKGROUND_SHARE = 0.01;

const perSecond = z.number().min(MIN_SELF_QUOTA_PER_SECOND).max(MAX_SELF_QUOTA_PER_SECOND);
const perMinute = z.number().min(MIN_SELF_QUOTA_PER_MINUTE).max(MAX_SELF_QUOTA_PER_MINUTE);
const settingsSchema = z.object({
  readPerSecond: perSecond.optional(),
  readPerMinute: perMinute.optional(),
  writePerSecond: perSecond.optional(),
  writePerMinute: perMinute.optional(),
  deletePerSecond: perSecond.optional(),
  deletePerMinute: perMinute.optional(),
});

export interface SelfQuotaSettings {
  options: Required<Pick<SelfQuotaOptions, 'limits' | 'backgroundShare'>>;
  /** Where the limits came from: the provider document, or the built-in defaults. */
  limitsSource: 'provider' | 'default';
  /** Why a document was not used (absent or invalid), for a warning. */
  problems: string[];
}

type Limits = Partial<Record<FirestoreOp, Partial<OpLimits>>>;

function issues(document: string, error: z.ZodError): string {
  return `${document}: ${error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ')}`;
}

function providerLimits(data: unknown): { limits?: Limits; problem?: string } {
  const document = `providers/${FIRESTORE_PROVIDER}`;
  if (data === undefined) return { problem: `${document} does not exist` };
  const parsed = providerSchema.safeParse({
    ...(data as Record<string, unknown>),
    id: FIRESTORE_PROVIDER,
  });
  if (!parsed.success) return { problem: issues(document, parsed.error) };
  const provider: Provider = parsed.data;
  const limits: Limits = {};
  const set = (op: FirestoreOp, key: keyof OpLimits, value: number) => {
    limits[op] = { ...limits[op], [key]: value };
  };
  const tighten = (op: FirestoreOp, key: keyof OpLimits, value: number) =>
    set(op, key, Math.min(limits[op]?.[key] ?? Number.POSITIVE_INFINITY, value));
  for (const [i, limit] of provider.limits.entries()) {
    if (limit.kind !== 'window' || limit.measure === 'bytes') continue;
    if (limit.unit !== 'second' && limit.unit !== 'minute') continue;
    const max = limit.unit === 'second' ? MAX_SELF_QUOTA_PER_SECOND : MAX_SELF_QUOTA_PER_MINUTE;
    const min = limit.unit === 'second' ? MIN_SELF_QUOTA_PER_SECOND : MIN_SELF_QUOTA_PER_MINUTE;
    if (limit.limit > max) {
      return { problem: `${document}: limits[${i}].limit: at most ${max} per ${limit.unit}` };
    }
    if (!(limit.limit >= min)) {
      return { problem: `${document}: limits[${i}].limit: at least ${min} per ${limit.unit}` };
    }
    const key = limit.unit === 'second' ? 'perSecond' : 'perMinute';
    tighten('write', key, limit.limit);
    tighten('delete', key, limit.limit);
  }
  const settings = settingsSchema.safeParse(provider.settings);
  if (!settings.success) return { problem: issues(`${document} settings`, settings.error) };
  for (const op of FIRESTORE_OPS) {
    const second = settings.data[`${op}PerSecond`];
    const minute = settings.data[`${op}PerMinute`];
    if (second !== undefined) set(op, 'perSecond', second);
    if (minute !== undefined) set(op, 'perMinute', minute);
  }
  if (Object.keys(limits).length === 0) {
    return { problem: `${document}: no second or minute window and no per-op settings` };
  }
  return { limits };
}

function pipelineShare(data: unknown): { share: number; problem?: string } {
  if (data === undefined) return { share: 1 };
  const document = `categories/${FIRESTORE_PIPELINE_CATEGORY}`;
  const parsed = categorySchema.safeParse({
    ...(data as Record<string, unknown>),
    id: FIRESTORE_PIPELINE_CATEGORY,
  });
  if (!parsed.success) return { share: 1, problem: issues(document, parsed.error) };
  if (parsed.data.provider !== FIRESTORE_PROVIDER) {
    return { share: 1, problem: `${document}: provider: must be "${FIRESTORE_PROVIDER}"` };
  }
  if (isPaused(parsed.data)) return { share: MIN_BACKGROUND_SHARE };
  return {
    share: Math.min(1, Math.max(MIN_BACKGROUND_SHARE, configuredPercent(parsed.data) / 100)),
  };
}

/**
 * The monitor's limits and background share from the stored data of `providers/firestore` and
 * `categories/firestore-pipeline` (undefined: the document does not exist).
 */
export function selfQuotaSettings(provider: unknown, category: unknown): SelfQuotaSettings {
  const problems: string[] = [];
  const fromProvider = providerLimits(provider);
  if (fromProvider.problem) problems.push(fromProvider.problem);
  const fromCategory = pipelineShare(category);
  if (fromCategory.problem) problems.push(fromCategory.problem);
  return {
    options: { limits: fromProvider.limits ?? {}, backgroundShare: fromCategory.share },
    limitsSource: fromProvider.limits ? 'provider' : 'default',
    problems,
  };
}
