import type { Precondition } from '@firestore-emulator/proto/dist/google/firestore/v1/common.js';
import type { Write } from '@firestore-emulator/proto/dist/google/firestore/v1/write.js';
import { timestampFromMillis, timestampsEqual } from './clock.ts';
import { deleteField, getField, parseFieldPath, setField } from './fieldpath.ts';
import { Code, invalid, RpcError } from './grpc.ts';
import {
  checkDocumentSize,
  checkFieldPath,
  checkFields,
  checkTransform,
  isReserved,
} from './limits.ts';
import { parseDocumentName } from './paths.ts';
import type { DocState, DocVersion, Store } from './store.ts';
import { applyTransform } from './transforms.ts';
import { type Fields, fromProtoFields, type Value } from './values.ts';

export interface WriteResult {
  update_time: { seconds: number; nanos: number };
  transform_results: Value[];
}

export function documentNameOf(write: Write): string {
  switch (write.operation) {
    case 'update':
      return write.update.name;
    case 'delete':
      return write.delete;
    case 'transform':
      return write.transform.document;
    default:
      throw invalid('write has no operation');
  }
}

function checkPrecondition(doc: DocState, write: Write): void {
  if (!write.has_current_document) return;
  const pre: Precondition = write.current_document;
  if (pre.condition_type === 'exists') {
    if (pre.exists && !doc.exists) {
      throw new RpcError(Code.NOT_FOUND, `No document to update: ${doc.name}`);
    }
    if (!pre.exists && doc.exists) {
      throw new RpcError(Code.ALREADY_EXISTS, `Document already exists: ${doc.name}`);
    }
  } else if (pre.condition_type === 'update_time') {
    const wanted = { seconds: Number(pre.update_time.seconds), nanos: pre.update_time.nanos };
    if (!doc.exists || !timestampsEqual(wanted, timestampFromMillis(doc.updateTime))) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `The update_time precondition of ${doc.name} failed: the document ${
          doc.exists ? 'was updated since' : 'does not exist'
        }`,
      );
    }
  }
}

// A write's data, converted once for both the checks and the update.
const dataOf = new WeakMap<Write, Fields>();
function updateData(write: Write): Fields {
  let data = dataOf.get(write);
  if (!data) {
    data = fromProtoFields(write.update.fields);
    dataOf.set(write, data);
  }
  return data;
}

/** Fields after an update: full replacement, or only the masked paths (absent in data = delete). */
function updatedFields(doc: DocState, write: Write): Fields {
  const data = updateData(write);
  if (!write.has_update_mask) return data;
  let fields = doc.fields;
  for (const text of write.update_mask.field_paths) {
    const path = parseFieldPath(text); // checked by checkWrite
    if (path.length === 1 && isReserved(path[0]!)) continue; // `__name__`: the document itself
    const value = getField(data, path);
    fields = value === undefined ? deleteField(fields, path) : setField(fields, path, value);
  }
  return fields;
}

/**
 * What production refuses in the request itself, before any document is looked at: reserved or
 * over-long field names and paths, over-long values (names were checked when parsed).
 */
export function checkWrite(write: Write): void {
  if (write.operation === 'update') {
    checkFields(updateData(write));
    if (write.has_update_mask) {
      for (const text of write.update_mask.field_paths) checkFieldPath(text, { allowName: true });
    }
  }
  const transforms =
    write.operation === 'transform' ? write.transform.field_transforms : write.update_transforms;
  for (const transform of transforms) checkTransform(transform);
}

/**
 * One write against the document's current state: checks the precondition, then computes the
 * next version (null = deleted). Pure, so a commit can validate everything before applying.
 */
export function applyWrite(
  doc: DocState,
  write: Write,
  commitMillis: number,
): { next: DocVersion | null; result: WriteResult } {
  checkPrecondition(doc, write);
  const update_time = timestampFromMillis(commitMillis);
  if (write.operation === 'delete')
    return { next: null, result: { update_time, transform_results: [] } };

  let fields = write.operation === 'update' ? updatedFields(doc, write) : doc.fields;
  const transforms =
    write.operation === 'transform' ? write.transform.field_transforms : write.update_transforms;
  const transform_results: Value[] = [];
  for (const transform of transforms) {
    const applied = applyTransform(fields, transform, commitMillis);
    fields = applied.fields;
    transform_results.push(applied.result);
  }
  return {
    next: {
      fields,
      createTime: doc.exists ? doc.createTime : commitMillis,
      updateTime: commitMillis,
    },
    result: { update_time, transform_results },
  };
}

/**
 * Applies writes all-or-nothing: each write sees the ones before it, every precondition is
 * checked before anything is stored, and the store is only touched once all succeeded.
 * Runs synchronously, so no other request interleaves.
 */
export function commitWrites(store: Store, writes: Write[], commitMillis: number): WriteResult[] {
  const staged = new Map<string, DocState>();
  const results = writes.map((write) => {
    const name = documentNameOf(write);
    parseDocumentName(name);
    checkWrite(write);
    const current = staged.get(name) ?? store.get(name);
    const { next, result } = applyWrite(current, write, commitMillis);
    // The document as it would be stored, transforms applied, must fit production's 1 MiB.
    if (next) checkDocumentSize(name, next.fields);
    staged.set(
      name,
      next
        ? { name, exists: true, ...next }
        : { name, exists: false, fields: {}, createTime: 0, updateTime: 0 },
    );
    return result;
  });
  for (const [name, doc] of staged) store.put(name, doc.exists ? doc : null);
  return results;
}
