import type { DocumentTransformFieldTransform } from '@firestore-emulator/proto/dist/google/firestore/v1/write.js';
import { timestampFromMillis } from './clock.ts';
import { type FieldPath, getField, parseFieldPath, setField } from './fieldpath.ts';
import { invalid } from './grpc.ts';
import {
  type Fields,
  fromProto,
  isNumber,
  NULL,
  type NumberValue,
  numberOf,
  sameValue,
  type Value,
} from './values.ts';

function requireNumber(v: Value, what: string): NumberValue {
  if (!isNumber(v)) throw invalid(`${what} operand must be an integer or a double`);
  return v;
}

function add(a: NumberValue, b: NumberValue): NumberValue {
  if ('integer_value' in a && 'integer_value' in b) {
    return { integer_value: a.integer_value + b.integer_value };
  }
  return { double_value: numberOf(a) + numberOf(b) };
}

/** Keeps the current value on ties (3 vs 3.0) and lets NaN win, as Firestore does. */
function extreme(current: NumberValue, operand: NumberValue, pickMax: boolean): NumberValue {
  const c = numberOf(current);
  const o = numberOf(operand);
  if (Number.isNaN(c)) return current;
  if (Number.isNaN(o)) return operand;
  if (c === o) return current;
  return o > c === pickMax ? operand : current;
}

/** Applies one field transform to `fields`; returns the new fields and the transform result. */
export function applyTransform(
  fields: Fields,
  transform: DocumentTransformFieldTransform,
  commitMillis: number,
): { fields: Fields; result: Value } {
  const path: FieldPath = parseFieldPath(transform.field_path);
  const current = getField(fields, path);
  let next: Value;
  let result: Value;
  switch (transform.transform_type) {
    case 'set_to_server_value':
      if (transform.set_to_server_value !== 1 /* REQUEST_TIME */) {
        throw invalid(`unsupported server value: ${transform.set_to_server_value}`);
      }
      next = { timestamp_value: timestampFromMillis(commitMillis) };
      result = next;
      break;
    case 'increment': {
      const operand = requireNumber(fromProto(transform.increment), 'increment');
      next = isNumber(current) ? add(current, operand) : operand;
      result = next;
      break;
    }
    case 'maximum':
    case 'minimum': {
      const pickMax = transform.transform_type === 'maximum';
      const operand = requireNumber(
        fromProto(pickMax ? transform.maximum : transform.minimum),
        transform.transform_type,
      );
      next = isNumber(current) ? extreme(current, operand, pickMax) : operand;
      result = next;
      break;
    }
    case 'append_missing_elements': {
      const values = current && 'array_value' in current ? [...current.array_value.values] : [];
      for (const element of transform.append_missing_elements.values.map(fromProto)) {
        if (!values.some((v) => sameValue(v, element))) values.push(element);
      }
      next = { array_value: { values } };
      result = NULL;
      break;
    }
    case 'remove_all_from_array': {
      const remove = transform.remove_all_from_array.values.map(fromProto);
      const values = current && 'array_value' in current ? current.array_value.values : [];
      next = {
        array_value: { values: values.filter((v) => !remove.some((r) => sameValue(v, r))) },
      };
      result = NULL;
      break;
    }
    default:
      throw invalid(`unsupported field transform on "${transform.field_path}"`);
  }
  return { fields: setField(fields, path, next), result };
}
