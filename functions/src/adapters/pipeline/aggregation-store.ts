import { type DocumentReference, FieldValue, type Firestore } from 'firebase-admin/firestore';
import { mapLimit } from '../../core/map-limit';
import {
  type Aggregate,
  type AggregationConfig,
  aggregateValues,
  type SourceResponse,
} from '../../core/pipeline/aggregation';
import { increment, minuteKey } from '../../core/storage/write-buffer';
import { logger } from '../../log';
import { db as instanceDb } from '../firebase';
import { instanceWriteBuffer } from '../storage/instance-write-buffer';
import {
  AGGREGATES_COLLECTION,
  AGGREGATION_STATS_COLLECTION,
  AGGREGATIONS_COLLECTION,
  flushReason,
  type Header,
  RESPONSES_SUBCOLLECTION,
  readHeader,
  sourceResponseSchema,
  stored,
  storedResponseSchema,
  toSourceResponse,
} from './aggregation-documents';
import { enqueueAggregationFlush } from './aggregation-flush-task';
import type {
  AggregationStoreOptions,
  FlushResult,
  StatCounter,
  SubmitOutcome,
  SubmitResult,
} from './aggregation-store-types';
import { loadPipelineConfig } from './pipeline-config';

/**
 * Responses for one work item reach whichever function instance Cloud Functions picks, so the
 * pending state lives in Firestore, not in the core's in-memory state machine:
 *
 * - `aggregations/{workItemId}`: a small header (first response time, count, status
 *   pending|written, whether the timeout flush is scheduled);
 * - `aggregations/{workItemId}/responses/{source}`: one document per source, created only if
 *   absent, so a redelivered response never counts twice;
 * - `aggregates/{workItemId}`: the aggregate, written once;
 * - `aggregationStats/{yyyyMMddHHmm}`: per-minute counters.
 *
 * A response is stored in the same transaction that reads the header, and a flush reads the
 * header and every response in one transaction. Transactions serialize, so a response is
 * either in the aggregate (acknowledged `added`) or stored after it and flagged late
 * (acknowledged `late`): nothing acknowledged is lost or silently left out.
 */

/** How long per-minute counters are kept (a TTL policy on `expiresAt` drops them). */
const STATS_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** A few sources contend on one header; allow more attempts than the SDK's 5. */
const TRANSACTION_ATTEMPTS = 10;
/** Concurrent flushes of an operator's force flush. */
const FORCE_CONCURRENCY = 8;

export class AggregationStore {
  private readonly now: () => number;

  constructor(
    private readonly db: Firestore,
    private readonly options: AggregationStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Stores one response durably, then acts on it: at the minimum count the item is flushed
   * now; the first response arms the timeout flush. Resolves once the response is durable.
   * If arming the timeout fails, this throws although the response is stored: the caller's
   * retry is acknowledged as a duplicate and arms it again.
   */
  async submitResponse(input: SourceResponse): Promise<SubmitResult> {
    const response = sourceResponseSchema.parse(input);
    const config = await this.config();
    const header = this.header(response.workItemId);
    const responseRef = header.collection(RESPONSES_SUBCOLLECTION).doc(response.source);
    const done = await this.db.runTransaction(
      async (tx) => {
        const [current, existing] = await Promise.all([
          readHeader(tx, header),
          tx.get(responseRef),
        ]);
        const nowMs = this.now();
        if (!current) {
          const created: Header = {
            workItemId: response.workItemId,
            firstAtMs: nowMs,
            count: 1,
            lateCount: 0,
            status: 'pending',
            flushAtMs: nowMs + config.timeoutSeconds * 1000,
            flushScheduled: true,
          };
          tx.create(responseRef, stored(response, nowMs, false));
          tx.create(header, created);
          return { outcome: 'added' as const, count: 1, arm: created, pending: true };
        }
        const pending = current.status === 'pending';
        let outcome: SubmitOutcome = 'duplicate';
        const updates: Record<string, unknown> = {};
        if (!existing.exists) {
          outcome = current.status === 'written' ? 'late' : 'added';
          tx.create(responseRef, stored(response, nowMs, outcome === 'late'));
          updates[outcome === 'late' ? 'lateCount' : 'count'] = FieldValue.increment(1);
        }
        // A header left unarmed (its scheduling failed) is claimed by whoever comes next. A
        // redelivered response arms it again however it is marked: the delivery that marked
        // it may have died before its enqueue, or this call's own commit may be what it sees
        // (an answer lost, the transaction re-run). The flush task's id is deterministic, so
        // arming twice enqueues once.
        const arm =
          pending && (!current.flushScheduled || outcome === 'duplicate') ? current : undefined;
        if (arm && !current.flushScheduled) updates.flushScheduled = true;
        if (Object.keys(updates).length > 0) tx.update(header, updates);
        const count = current.count + (outcome === 'added' ? 1 : 0);
        return { outcome, count, arm, pending };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
    const stat = { added: 'responses', duplicate: 'duplicates', late: 'late' } as const;
    this.count(stat[done.outcome]);
    if (done.outcome === 'late') {
      logger.info({ workItemId: response.workItemId, source: response.source }, 'late response');
    }

    // Armed even when the quorum is already here: it backs up a quorum flush that fails.
    if (done.arm) await this.arm(done.arm);
    const result: SubmitResult = { outcome: done.outcome, count: done.count };
    // A redelivery of a quorum's last response flushes too: the delivery that completed the
    // quorum may have died before its flush.
    if (done.outcome !== 'late' && done.pending && done.count >= config.minResponses) {
      try {
        result.flush = await this.flushItem(response.workItemId);
      } catch (error) {
        // The response is durable and the timeout flush will write it; do not fail the ack.
        logger.error({ err: error, workItemId: response.workItemId }, 'quorum flush failed');
      }
    }
    return result;
  }

  /**
   * Writes the item's aggregate if it is due (or `force`), exactly once: the header and the
   * responses are read and the aggregate created in one transaction, so of two racing
   * flushes one writes and the other finds the header written.
   */
  async flushItem(workItemId: string, options: { force?: boolean } = {}): Promise<FlushResult> {
    const config = await this.config();
    const header = this.header(workItemId);
    const aggregateRef = this.db.collection(AGGREGATES_COLLECTION).doc(workItemId);
    const result = await this.db.runTransaction(
      async (tx): Promise<FlushResult> => {
        const current = await readHeader(tx, header);
        if (!current) return { outcome: 'unknown' };
        if (current.status === 'written') return { outcome: 'already-written' };
        const [snapshot, existing] = await Promise.all([
          tx.get(header.collection(RESPONSES_SUBCOLLECTION)),
          tx.get(aggregateRef),
        ]);
        const nowMs = this.now();
        if (existing.exists) {
          // Written, but the header was not marked (only possible by hand): repair it.
          tx.update(header, { status: 'written' });
          return { outcome: 'already-written' };
        }
        const responses = snapshot.docs
          .map((doc) => storedResponseSchema.parse(doc.data()))
          .filter((r) => !r.late);
        const reason = flushReason(responses.length, current, nowMs, config, options.force);
        if (!reason) return { outcome: 'not-due', dueAtMs: current.flushAtMs };
        const aggregate: Aggregate = {
          workItemId,
          reason,
          responseCount: responses.length,
          firstAtMs: current.firstAtMs,
          writtenAtMs: nowMs,
          ...aggregateValues(responses.map(toSourceResponse), config),
        };
        tx.create(aggregateRef, aggregate);
        tx.update(header, { status: 'written', writtenAtMs: nowMs, reason });
        return { outcome: 'written', aggregate };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
    if (result.outcome === 'written') {
      this.count('written');
      const { reason, responseCount } = result.aggregate;
      logger.info({ workItemId, reason, responseCount }, 'aggregate written');
    }
    return result;
  }

  /** For operators: writes the named items, or every pending one, whatever their count. */
  async forceFlush(
    options: { workItemIds?: readonly string[] } = {},
  ): Promise<Record<string, FlushResult>> {
    const ids = options.workItemIds ?? (await this.pendingIds());
    const results = await mapLimit(ids, FORCE_CONCURRENCY, (id) =>
      this.flushItem(id, { force: true }),
    );
    return Object.fromEntries(ids.map((id, i) => [id, results[i]!]));
  }

  /** Every response stored for an item, late ones included, in source order. */
  async responses(
    workItemId: string,
  ): Promise<Array<SourceResponse & { receivedAtMs: number; late: boolean }>> {
    const snapshot = await this.header(workItemId).collection(RESPONSES_SUBCOLLECTION).get();
    return snapshot.docs.map((doc) => storedResponseSchema.parse(doc.data()));
  }

  async aggregate(workItemId: string): Promise<Aggregate | undefined> {
    const snapshot = await this.db.collection(AGGREGATES_COLLECTION).doc(workItemId).get();
    return snapshot.exists ? (snapshot.data() as Aggregate) : undefined;
  }

  private async pendingIds(): Promise<string[]> {
    const snapshot = await this.db
      .collection(AGGREGATIONS_COLLECTION)
      .where('status', '==', 'pending')
      .get();
    return snapshot.docs.map((doc) => doc.id);
  }

  /** Arms the timeout flush; on failure the claim is released for the next submission. */
  private async arm(header: Header): Promise<void> {
    try {
      await this.options.scheduleFlush(header.workItemId, header.flushAtMs);
    } catch (error) {
      await this.header(header.workItemId)
        .update({ flushScheduled: false })
        .catch((e: unknown) => logger.error({ err: e }, 'could not release the flush claim'));
      throw error;
    }
  }

  /**
   * Why the counters take the group-commit buffer and the aggregate does not: counters are
   * increments that coalesce across a minute's responses into one write, and the caller
   * need not wait for them (not awaited, so acknowledgements do not pay the buffer's
   * interval). The aggregate must be written exactly once, conditioned on the header and
   * the responses read with it; the buffer only merges blind writes, so two racing flushes
   * would both "succeed" with possibly different response sets. It stays transactional.
   */
  private count(counter: StatCounter): void {
    const minuteMs = Math.floor(this.now() / 60_000) * 60_000;
    this.options.stats
      .update(`${AGGREGATION_STATS_COLLECTION}/${minuteKey(minuteMs)}`, {
        minute: new Date(minuteMs),
        expiresAt: new Date(minuteMs + STATS_RETENTION_MS),
        [counter]: increment(1),
      })
      .catch((error: unknown) => logger.warn({ err: error, counter }, 'aggregation stat lost'));
  }

  private header(workItemId: string): DocumentReference {
    return this.db.collection(AGGREGATIONS_COLLECTION).doc(workItemId);
  }

  private async config(): Promise<AggregationConfig> {
    return this.options.config ?? (await loadPipelineConfig(this.db)).aggregation;
  }
}

/** The instance's store: the default app, its write buffer, flush tasks on Cloud Tasks. */
export function aggregationStore(): AggregationStore {
  return new AggregationStore(instanceDb(), {
    scheduleFlush: (workItemId, atMs) => enqueueAggregationFlush(workItemId, atMs),
    stats: instanceWriteBuffer(),
  });
}
