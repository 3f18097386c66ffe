import type { FirestoreOp } from './self-quota';

/**
 * What a Firestore RPC costs in billed document reads, writes and deletes
 * (https://firebase.google.com/docs/firestore/pricing), from the request the Admin SDK sends
 * and the response it gets back. Pure: requests and responses are the SDK's protobuf objects,
 * read by shape. Only what succeeded is counted: a failed commit or a read that returned
 * nothing before failing costs nothing here.
 *
 * - commit (batches, transactions, single-document writes): one write per Write, one delete per
 *   Write that deletes;
 * - batchWrite (BulkWriter): the same, for each Write whose status is OK;
 * - batchGetDocuments (get, getAll, transactional reads): one read per document answered, found
 *   or missing;
 * - runQuery: one read per document returned, plus one per document its `offset` skipped (Firestore
 *   bills the reads it needs to skip them); a query that costs nothing else costs one. When it
 *   returns a document, the whole offset was skipped; when it returns none, only what Firestore
 *   reports in `skippedResults` (fewer documents than the offset may have matched);
 * - runAggregationQuery: one read per 1,000 index entries counted (at least one); a sum or
 *   average without a count in the same query is charged the minimum (its entries are unknown);
 * - listDocuments: one read per document listed, at least one; listCollectionIds: one;
 * - listen: one read per document change delivered;
 * - beginTransaction, rollback and the rest: nothing.
 */

export type OpCounts = Partial<Record<FirestoreOp, number>>;

/** Index entries one aggregation read covers. */
export const AGGREGATION_ENTRIES_PER_READ = 1000;

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' ? (value as Obj) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A non-negative whole count from a proto field (a number, or an int64 as a string). */
function count(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** A write proto: a delete, or anything else (update, transform) that is one write. */
function writeKind(write: unknown): FirestoreOp {
  return obj(write)?.delete ? 'delete' : 'write';
}

function add(counts: OpCounts, op: FirestoreOp, n = 1): OpCounts {
  if (n > 0) counts[op] = (counts[op] ?? 0) + n;
  return counts;
}

/** What a successful unary call cost (`response` is what it answered). */
export function unaryCost(method: string, request: unknown, response: unknown): OpCounts {
  const counts: OpCounts = {};
  switch (method) {
    case 'commit':
      for (const write of list(obj(request)?.writes)) add(counts, writeKind(write));
      return counts;
    case 'batchWrite': {
      const status = list(obj(response)?.status);
      list(obj(request)?.writes).forEach((write, i) => {
        const code = obj(status[i])?.code;
        if (code === undefined || code === null || code === 0) add(counts, writeKind(write));
      });
      return counts;
    }
    case 'listDocuments':
      return add(counts, 'read', Math.max(1, list(response).length));
    case 'listCollectionIds':
      return add(counts, 'read', 1);
    default:
      return counts;
  }
}

/** Counts one streamed call's responses as they are consumed, and its minimum at the end. */
export interface StreamMeter {
  response(chunk: unknown): OpCounts;
  /** The stream ended without an error. */
  end(): OpCounts;
}

/** The meter of a streamed call, or undefined when it costs nothing (or is not known). */
export function streamMeter(method: string, request: unknown): StreamMeter | undefined {
  switch (method) {
    case 'batchGetDocuments':
      return {
        response: (chunk) => {
          const r = obj(chunk);
          return r?.found || r?.missing ? { read: 1 } : {};
        },
        end: () => ({}),
      };
    case 'runQuery': {
      const offset = count(obj(obj(request)?.structuredQuery)?.offset);
      let reported = 0;
      let charged = 0;
      return {
        response: (chunk) => {
          const r = obj(chunk);
          reported += count(r?.skippedResults);
          if (!r?.document) return {};
          // The offset is skipped before the first document: charge it with that document.
          const reads = charged === 0 ? 1 + Math.max(offset, reported) : 1;
          charged += reads;
          return { read: reads };
        },
        end: () => (charged === 0 ? { read: Math.max(1, reported) } : {}),
      };
    }
    case 'runAggregationQuery': {
      const aggregations = list(obj(obj(request)?.structuredAggregationQuery)?.aggregations);
      const countAliases = aggregations
        .map(obj)
        .filter((a) => a?.count !== undefined && a?.count !== null)
        .map((a) => String(a?.alias ?? ''));
      let charged = 0;
      return {
        response: (chunk) => {
          const fields = obj(obj(obj(chunk)?.result)?.aggregateFields);
          if (!fields) return {};
          let entries = 0;
          for (const alias of countAliases) {
            const value = Number(obj(fields[alias])?.integerValue ?? 0);
            if (Number.isFinite(value)) entries = Math.max(entries, value);
          }
          const reads = Math.max(1, Math.ceil(entries / AGGREGATION_ENTRIES_PER_READ));
          charged += reads;
          return { read: reads };
        },
        end: () => (charged === 0 ? { read: 1 } : {}),
      };
    }
    case 'listen':
      return {
        response: (chunk) => (obj(chunk)?.documentChange ? { read: 1 } : {}),
        end: () => ({}),
      };
    default:
      return undefined;
  }
}
