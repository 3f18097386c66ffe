import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import { timestampFromMillis } from './clock.ts';
import { type FieldPath, projectFields } from './fieldpath.ts';
import { grpc, toStatus } from './grpc.ts';
import { checkFieldPath } from './limits.ts';
import { documentProto, emptyProto, firestoreProto, writeProto } from './package.ts';
import type { DocState } from './store.ts';

/**
 * What every RPC of the service shares: running a handler so that it always answers with a
 * gRPC status, the protobuf message classes, and a stored document's wire shape.
 */

// Message classes (values); the service modules import the same names as their types.
export const pb = { ...firestoreProto, ...documentProto, ...writeProto, ...emptyProto };

/** The wire shape of a stored document, optionally reduced to a field mask. */
export function documentObject(doc: DocState, mask?: FieldPath[]) {
  return {
    name: doc.name,
    fields: mask ? projectFields(doc.fields, mask) : doc.fields,
    create_time: timestampFromMillis(doc.createTime),
    update_time: timestampFromMillis(doc.updateTime),
  };
}

export const maskOf = (req: { has_mask: boolean; mask: { field_paths: string[] } }) =>
  req.has_mask
    ? req.mask.field_paths.map((path) => checkFieldPath(path, { allowName: true }))
    : undefined;

export const now = () => timestampFromMillis(Date.now());

export function unary<Req, Res>(
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>,
  handle: (req: Req) => Res | Promise<Res>,
): void {
  Promise.resolve()
    .then(() => handle(call.request))
    .then(
      (res) => callback(null, res),
      (err) => callback({ ...toStatus(err), name: 'Error' }, null),
    );
}

export function serverStream<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  handle: (req: Req, send: (res: Res) => void) => Promise<void> | void,
): void {
  const send = (res: Res) => {
    if (!call.cancelled && call.writable) call.write(res);
  };
  // Headers first: the SDK's stream wrapper (retry-request) silently retries, with seconds of
  // backoff, any stream that fails before it saw a response, whatever the status code.
  call.sendMetadata(new grpc.Metadata());
  Promise.resolve()
    .then(() => handle(call.request, send))
    .then(
      () => call.end(),
      (err) => call.emit('error', toStatus(err)),
    );
}
