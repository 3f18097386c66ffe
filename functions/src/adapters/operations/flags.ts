import { isDeepStrictEqual } from 'node:util';
import type { Transaction } from 'firebase-admin/firestore';
import type { z } from 'zod';
import { flagsSchema, parseDocument } from '../../core/config';
import {
  fieldIssues,
  invalidArgument,
  type RelatedChange,
  type SetFlagsResult,
  type SetMaintenanceModeResult,
  type setFlagsInput,
  type setMaintenanceModeInput,
} from '../../core/operations';
import { pipelineConfigSchema } from '../../core/pipeline/config';
import { CONFIG_PATHS } from '../config-repository';
import { PIPELINE_CONFIG_PATH } from '../pipeline/pipeline-config';
import {
  parseWorkPipeline,
  readWorkSources,
  refuseNewShareProblems,
} from '../pipeline/work-shares';
import { writeAudit } from './audit';
import type { OperationContext } from './context';
import { parseCategory, parseProvider } from './documents';
import { queueStates } from './queues';

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Only the keys the caller gave, with their parsed values (schemas fill in defaults). */
function given(raw: unknown, parsed: unknown): Raw {
  if (!isRecord(raw) || !isRecord(parsed)) return {};
  return Object.fromEntries(
    Object.keys(raw)
      .filter((key) => raw[key] !== undefined)
      .map((key) => [key, withoutUndefined(parsed[key])]),
  );
}

/**
 * A field set to `undefined` at any depth is not given (as JSON, which cannot carry it, has
 * it): an object replaced as a whole (per-marketplace overrides) is stored without it. So the
 * change check compares what would be stored, and nothing depends on the client's
 * `ignoreUndefinedProperties` (set in production, not by every client that runs operations).
 */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, withoutUndefined(v)]),
  );
}

/**
 * Maintenance mode: while on, the gate grants nothing (callers retry later) and the provider
 * queues are paused, so no task is even dispatched. One transaction writes
 * `config/flags.maintenance` and the audit entry (with the reason); the queues follow after
 * it commits. The other flags are kept as they are, valid or not, so the switch works in an
 * emergency.
 */
export async function setMaintenanceMode(
  ctx: OperationContext,
  input: z.output<typeof setMaintenanceModeInput>,
): Promise<SetMaintenanceModeResult> {
  const { db } = ctx;
  const ref = db.doc(CONFIG_PATHS.flags);
  const result = await db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const before = snapshot.data() ?? {};
    if ((before.maintenance ?? false) === input.enabled) {
      return { maintenance: input.enabled, changed: false, auditId: null };
    }
    tx.set(ref, { maintenance: input.enabled }, { merge: true });
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'setMaintenanceMode',
      target: CONFIG_PATHS.flags,
      before: { maintenance: before.maintenance ?? false },
      after: { maintenance: input.enabled },
      ...(input.reason === undefined ? {} : { reason: input.reason }),
      atMs: ctx.now(),
    });
    return { maintenance: input.enabled, changed: true, auditId };
  });
  // Also when unchanged: a repeated call mends a queue a failed earlier call left behind.
  return { ...result, queues: await queueStates(ctx, input.enabled) };
}

/**
 * Changes flags (`config/flags`, except maintenance) and pipeline settings (`config/pipeline`,
 * per section, the given fields). The stored documents must be valid first (else
 * failed-precondition); the merged result is validated as a whole (cross-field rules), an
 * invalid one is invalid-argument naming the field; batch sizes or phases its categories'
 * shares cannot carry are failed-precondition. Only the given fields are stored, so
 * defaults not set by anyone stay defaults. Both documents and the audit entry are one
 * transaction.
 */
export async function setFlags(
  ctx: OperationContext,
  input: z.output<typeof setFlagsInput>,
  raw: unknown,
): Promise<SetFlagsResult> {
  const { db } = ctx;
  const rawInput = isRecord(raw) ? raw : {};
  const flagsRef = db.doc(CONFIG_PATHS.flags);
  const pipelineRef = db.doc(PIPELINE_CONFIG_PATH);
  return db.runTransaction(async (tx) => {
    const [flagsSnap, pipelineSnap] = await Promise.all([tx.get(flagsRef), tx.get(pipelineRef)]);
    const storedFlags: Raw = flagsSnap.data() ?? {};
    const storedPipeline: Raw = pipelineSnap.data() ?? {};
    parseDocument(flagsSchema, CONFIG_PATHS.flags, storedFlags);
    parseDocument(pipelineConfigSchema, PIPELINE_CONFIG_PATH, storedPipeline);

    const nextFlags: Raw = { ...storedFlags, ...given(rawInput.flags, input.flags) };
    const nextPipeline: Raw = { ...storedPipeline };
    const rawPipeline = isRecord(rawInput.pipeline) ? rawInput.pipeline : {};
    const parsedPipeline = (input.pipeline ?? {}) as Raw;
    for (const section of Object.keys(rawPipeline)) {
      const stored = isRecord(storedPipeline[section]) ? storedPipeline[section] : {};
      nextPipeline[section] = {
        ...stored,
        ...given(rawPipeline[section], parsedPipeline[section]),
      };
    }
    const flags = flagsSchema.safeParse(nextFlags);
    if (!flags.success) throw invalidArgument(fieldIssues(flags.error, ['flags']));
    const pipeline = pipelineConfigSchema.safeParse(nextPipeline);
    if (!pipeline.success) throw invalidArgument(fieldIssues(pipeline.error, ['pipeline']));

    const flagsChanged = !isDeepStrictEqual(storedFlags, nextFlags);
    const pipelineChanged = !isDeepStrictEqual(storedPipeline, nextPipeline);
    if (!flagsChanged && !pipelineChanged) {
      return { flags: flags.data, pipeline: pipeline.data, changed: false, auditId: null };
    }
    if (pipelineChanged) await checkWork(ctx, tx, storedPipeline, nextPipeline);
    if (flagsChanged) tx.set(flagsRef, nextFlags);
    if (pipelineChanged) tx.set(pipelineRef, nextPipeline);
    const changes: RelatedChange[] = [
      ...(flagsChanged
        ? [{ path: CONFIG_PATHS.flags, before: storedFlags, after: nextFlags }]
        : []),
      ...(pipelineChanged
        ? [{ path: PIPELINE_CONFIG_PATH, before: storedPipeline, after: nextPipeline }]
        : []),
    ];
    const [main, ...related] = changes;
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'setFlags',
      target: main!.path,
      before: main!.before,
      after: main!.after,
      related,
      atMs: ctx.now(),
    });
    return { flags: flags.data, pipeline: pipeline.data, changed: true, auditId };
  });
}

/**
 * Batch sizes and the default phases decide what categories' work asks and at which shares:
 * a change of them must leave every category able to carry the largest call of its work, now
 * and in its collections' later phases (failed-precondition: a ConfigError naming the category).
 */
async function checkWork(ctx: OperationContext, tx: Transaction, stored: Raw, next: Raw) {
  const before = parseWorkPipeline(stored);
  const after = parseWorkPipeline(next);
  if (isDeepStrictEqual(before, after)) return;
  const { db } = ctx;
  const [providers, categories, sources] = await Promise.all([
    tx.get(db.collection(CONFIG_PATHS.providers)),
    tx.get(db.collection(CONFIG_PATHS.categories)),
    readWorkSources(db, { tx }),
  ]);
  const config = {
    providers: providers.docs.map(parseProvider),
    categories: categories.docs.map(parseCategory),
  };
  refuseNewShareProblems(
    { ...config, ...sources, ...before },
    { ...config, ...sources, ...after },
    { laterPhases: true },
  );
}
