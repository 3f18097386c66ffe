import { FieldPath, FieldValue } from 'firebase-admin/firestore';
import { type FieldUpdates, fieldSegments } from '../../core/storage/write-buffer';

/** The nested data and field mask of one coalesced document update, as firebase-admin takes it. */
export function toFirestoreWrite(fields: FieldUpdates): {
  data: Record<string, unknown>;
  mask: FieldPath[];
} {
  const data: Record<string, unknown> = {};
  const mask: FieldPath[] = [];
  for (const [path, op] of fields) {
    const segments = fieldSegments(path);
    let target = data;
    for (const segment of segments.slice(0, -1)) {
      target[segment] ??= {};
      target = target[segment] as Record<string, unknown>;
    }
    target[segments.at(-1)!] =
      op.kind === 'set'
        ? op.value
        : op.kind === 'increment'
          ? FieldValue.increment(op.by)
          : FieldValue.arrayUnion(...op.elements);
    mask.push(new FieldPath(...segments));
  }
  return { data, mask };
}
