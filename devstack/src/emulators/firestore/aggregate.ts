import type { StructuredAggregationQueryAggregation } from '@firestore-emulator/proto/dist/google/firestore/v1/query.js';
import { getField, parseFieldPath } from './fieldpath.ts';
import { invalid } from './grpc.ts';
import type { DocState } from './store.ts';
import { isNumber, NULL, type NumberValue, numberOf, type Value } from './values.ts';

function numbersAt(docs: DocState[], fieldPath: string): NumberValue[] {
  const path = parseFieldPath(fieldPath);
  return docs.map((d) => getField(d.fields, path)).filter(isNumber);
}

/** count / sum / avg over query results, typed like Firestore (integer sums stay integers). */
export function aggregate(
  docs: DocState[],
  aggregations: StructuredAggregationQueryAggregation[],
): Record<string, Value> {
  const out: Record<string, Value> = {};
  aggregations.forEach((agg, i) => {
    const alias = agg.alias || `field_${i + 1}`;
    switch (agg.operator) {
      case 'count': {
        const upTo = agg.count.has_up_to ? Number(agg.count.up_to.value) : Infinity;
        out[alias] = { integer_value: Math.min(docs.length, upTo) };
        break;
      }
      case 'sum': {
        const values = numbersAt(docs, agg.sum.field.field_path);
        const total = values.reduce((s, v) => s + numberOf(v), 0);
        const allIntegers = values.every((v) => 'integer_value' in v);
        out[alias] =
          allIntegers && Number.isSafeInteger(total)
            ? { integer_value: total }
            : { double_value: total };
        break;
      }
      case 'avg': {
        const values = numbersAt(docs, agg.avg.field.field_path);
        out[alias] = values.length
          ? { double_value: values.reduce((s, v) => s + numberOf(v), 0) / values.length }
          : NULL;
        break;
      }
      default:
        throw invalid(`unsupported aggregation "${alias}"`);
    }
  });
  return out;
}
