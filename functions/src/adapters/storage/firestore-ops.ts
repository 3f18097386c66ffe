import type { Firestore } from 'firebase-admin/firestore';
import { type OpCounts, streamMeter, unaryCost } from '../../core/storage/firestore-billing';
import { FIRESTORE_OPS, type FirestoreOp } from '../../core/storage/self-quota';
import { logger } from '../../log';

/**
 * Counts every Firestore operation a Firestore instance makes, at the one place they all pass:
 * the Admin SDK sends each RPC through its instance's `request` (commit, batchWrite,
 * listDocuments...) or `requestStream` (batchGetDocuments, runQuery, runAggregationQuery,
 * listen). Wrapping those two on the instance sees every get, query, count, batch, transaction
 * (its reads and its commit), BulkWriter and write-buffer commit, whichever code made it, and
 * only for this instance (other apps' Firestores, as in tests, are not touched). What a call
 * cost is read from its request and response (core/storage/firestore-billing.ts), once it succeeded;
 * a stream's responses are counted as they are consumed.
 *
 * `request` and `requestStream` are internal to @google-cloud/firestore (7.x): if a release
 * drops them, nothing is counted and a warning says so (the self-quota tests then fail).
 */

export type OpSink = (op: FirestoreOp, count: number) => void;

interface FirestoreInternals {
  request(method: string, request: unknown, ...rest: unknown[]): Promise<unknown>;
  requestStream(
    method: string,
    bidirectional: boolean,
    request: unknown,
    ...rest: unknown[]
  ): Promise<NodeJS.ReadableStream>;
}

const INSTRUMENTED = Symbol.for('tollgate.firestoreOps');

function charge(sink: OpSink, counts: OpCounts): void {
  for (const op of FIRESTORE_OPS) {
    const n = counts[op];
    if (n) sink(op, n);
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    // Counting must never break a Firestore call.
    logger.warn({ err: error }, 'counting a Firestore operation failed');
  }
}

/**
 * Counts a stream's responses as its reader consumes them: every consumed chunk is emitted as
 * `data` (flowing mode, pipes and async iteration alike), and the call's minimum is charged
 * when it ends or closes without an error.
 */
function meterStream(
  stream: NodeJS.ReadableStream,
  meter: NonNullable<ReturnType<typeof streamMeter>>,
  sink: OpSink,
): void {
  const emit = stream.emit;
  let failed = false;
  let ended = false;
  stream.emit = function (this: NodeJS.ReadableStream, event: string | symbol, ...args: unknown[]) {
    safely(() => {
      if (event === 'data') charge(sink, meter.response(args[0]));
      else if (event === 'error') failed = true;
      else if ((event === 'end' || event === 'close') && !ended) {
        ended = true;
        if (!failed) charge(sink, meter.end());
      }
    });
    return emit.call(this, event, ...args);
  } as typeof stream.emit;
}

/**
 * Counts `db`'s operations into `sink` from now on. Idempotent: a Firestore already counted
 * keeps its first sink (the answer says whether this call installed it).
 */
export function instrumentFirestore(db: Firestore, sink: OpSink): boolean {
  const target = db as unknown as FirestoreInternals & Record<symbol, unknown>;
  if (target[INSTRUMENTED]) return false;
  const request = target.request;
  const requestStream = target.requestStream;
  if (typeof request !== 'function' || typeof requestStream !== 'function') {
    logger.warn('this Firestore SDK has no request funnel: Firestore operations are not counted');
    return false;
  }
  Object.defineProperty(target, INSTRUMENTED, { value: true });
  target.request = async function (method, body, ...rest) {
    const response = await request.call(this, method, body, ...rest);
    safely(() => charge(sink, unaryCost(method, body, response)));
    return response;
  };
  target.requestStream = async function (method, bidirectional, body, ...rest) {
    const stream = await requestStream.call(this, method, bidirectional, body, ...rest);
    const meter = streamMeter(method, body);
    if (meter) meterStream(stream, meter, sink);
    return stream;
  };
  return true;
}

/** Whether `db` (or the Firestore a wrapper of it forwards to) is counted. */
export function isInstrumented(db: Firestore): boolean {
  return Boolean((db as unknown as Record<symbol, unknown>)[INSTRUMENTED]);
}
