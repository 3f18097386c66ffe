import type {
  Cursor,
  StructuredQuery,
  StructuredQueryFieldFilter,
  StructuredQueryFilter,
  StructuredQueryUnaryFilter,
} from '@firestore-emulator/proto/dist/google/firestore/v1/query.js';
import { type FieldPath, formatFieldPath, getField, parseFieldPath } from './fieldpath.ts';
import { invalid, unimplemented } from './grpc.ts';
import { checkCollectionId } from './limits.ts';
import { parseParentName } from './paths.ts';
import type { DocState, Store } from './store.ts';
import {
  arrayContains,
  compareValues,
  fromProto,
  isNaNValue,
  sameTypeOrder,
  type Value,
  valuesEqual,
} from './values.ts';

/**
 * A StructuredQuery evaluated over the store with Firestore's semantics: nested field paths,
 * `__name__`, implicit ordering (inequality fields, then `__name__`), documents lacking an
 * order-by field excluded, cursors, offset, limit and projection.
 */
export interface QueryResult {
  docs: DocState[];
  /** Field paths to keep in each returned document (select), or undefined for all. */
  projection?: FieldPath[];
}

const NAME = '__name__';
type Predicate = (doc: DocState) => boolean;
type Order = { path: FieldPath; key: string; descending: boolean };

const ASCENDING = 1;
const DESCENDING = 2;
const op = {
  LESS_THAN: 1,
  LESS_THAN_OR_EQUAL: 2,
  GREATER_THAN: 3,
  GREATER_THAN_OR_EQUAL: 4,
  EQUAL: 5,
  NOT_EQUAL: 6,
  ARRAY_CONTAINS: 7,
  IN: 8,
  ARRAY_CONTAINS_ANY: 9,
  NOT_IN: 10,
} as const;
const unary = { IS_NAN: 2, IS_NULL: 3, IS_NOT_NAN: 4, IS_NOT_NULL: 5 } as const;

function valueAt(doc: DocState, path: FieldPath): Value | undefined {
  if (path.length === 1 && path[0] === NAME) return { reference_value: doc.name };
  return getField(doc.fields, path);
}

const isNull = (v: Value | undefined) => v !== undefined && 'null_value' in v;

function fieldPredicate(filter: StructuredQueryFieldFilter, inequalities: Set<string>): Predicate {
  const path = parseFieldPath(filter.field.field_path);
  const operand = fromProto(filter.value);
  const list = 'array_value' in operand ? operand.array_value.values : undefined;
  const ordered = (test: (c: number) => boolean): Predicate => {
    inequalities.add(formatFieldPath(path));
    return (doc) => {
      const v = valueAt(doc, path);
      if (v === undefined || !sameTypeOrder(v, operand) || isNaNValue(v) || isNaNValue(operand)) {
        return false;
      }
      return test(compareValues(v, operand));
    };
  };
  const needList = () => {
    if (!list) throw invalid(`operator ${filter.op} needs an array operand`);
    return list;
  };
  switch (filter.op) {
    case op.LESS_THAN:
      return ordered((c) => c < 0);
    case op.LESS_THAN_OR_EQUAL:
      return ordered((c) => c <= 0);
    case op.GREATER_THAN:
      return ordered((c) => c > 0);
    case op.GREATER_THAN_OR_EQUAL:
      return ordered((c) => c >= 0);
    case op.EQUAL:
      return (doc) => {
        const v = valueAt(doc, path);
        return v !== undefined && valuesEqual(v, operand);
      };
    case op.NOT_EQUAL:
      inequalities.add(formatFieldPath(path));
      return (doc) => {
        const v = valueAt(doc, path);
        return v !== undefined && !isNull(v) && !valuesEqual(v, operand);
      };
    case op.ARRAY_CONTAINS:
      return (doc) => {
        const v = valueAt(doc, path);
        return (
          v !== undefined && 'array_value' in v && arrayContains(v.array_value.values, operand)
        );
      };
    case op.ARRAY_CONTAINS_ANY: {
      const wanted = needList();
      return (doc) => {
        const v = valueAt(doc, path);
        return (
          v !== undefined &&
          'array_value' in v &&
          wanted.some((w) => arrayContains(v.array_value.values, w))
        );
      };
    }
    case op.IN: {
      const wanted = needList();
      return (doc) => {
        const v = valueAt(doc, path);
        return v !== undefined && arrayContains(wanted, v);
      };
    }
    case op.NOT_IN: {
      const unwanted = needList();
      inequalities.add(formatFieldPath(path));
      if (unwanted.some(isNull)) return () => false; // "not in [null, ...]" matches nothing
      return (doc) => {
        const v = valueAt(doc, path);
        return v !== undefined && !isNull(v) && !arrayContains(unwanted, v);
      };
    }
    default:
      throw invalid(`unsupported field filter operator ${filter.op}`);
  }
}

function unaryPredicate(filter: StructuredQueryUnaryFilter, inequalities: Set<string>): Predicate {
  const path = parseFieldPath(filter.field.field_path);
  switch (filter.op) {
    case unary.IS_NAN:
      return (doc) => isNaNValue(valueAt(doc, path));
    case unary.IS_NULL:
      return (doc) => isNull(valueAt(doc, path));
    case unary.IS_NOT_NAN:
      inequalities.add(formatFieldPath(path));
      return (doc) => {
        const v = valueAt(doc, path);
        return v !== undefined && !isNull(v) && !isNaNValue(v);
      };
    case unary.IS_NOT_NULL:
      inequalities.add(formatFieldPath(path));
      return (doc) => {
        const v = valueAt(doc, path);
        return v !== undefined && !isNull(v);
      };
    default:
      throw invalid(`unsupported unary filter operator ${filter.op}`);
  }
}

function compileFilter(filter: StructuredQueryFilter, inequalities: Set<string>): Predicate {
  switch (filter.filter_type) {
    case 'field_filter':
      return fieldPredicate(filter.field_filter, inequalities);
    case 'unary_filter':
      return unaryPredicate(filter.unary_filter, inequalities);
    case 'composite_filter': {
      const parts = filter.composite_filter.filters.map((f) => compileFilter(f, inequalities));
      if (filter.composite_filter.op === 1) return (doc) => parts.every((p) => p(doc));
      if (filter.composite_filter.op === 2) return (doc) => parts.some((p) => p(doc));
      throw invalid('composite filter needs an operator');
    }
    default:
      throw invalid('empty filter');
  }
}

/** Explicit orders, then unordered inequality fields, then `__name__` (last direction). */
function effectiveOrders(query: StructuredQuery, inequalities: Set<string>): Order[] {
  const orders: Order[] = query.order_by.map((o) => {
    const path = parseFieldPath(o.field.field_path);
    if (o.direction !== ASCENDING && o.direction !== DESCENDING && o.direction !== 0) {
      throw invalid(`invalid order direction ${o.direction}`);
    }
    return { path, key: formatFieldPath(path), descending: o.direction === DESCENDING };
  });
  const seen = new Set(orders.map((o) => o.key));
  const lastDescending = orders.at(-1)?.descending ?? false;
  for (const key of [...inequalities].sort()) {
    if (!seen.has(key) && key !== NAME) {
      orders.push({ path: parseFieldPath(key), key, descending: lastDescending });
      seen.add(key);
    }
  }
  if (!seen.has(NAME)) orders.push({ path: [NAME], key: NAME, descending: lastDescending });
  return orders;
}

function compareByOrders(a: DocState, b: DocState, orders: Order[]): number {
  for (const order of orders) {
    const c = compareValues(valueAt(a, order.path)!, valueAt(b, order.path)!);
    if (c !== 0) return order.descending ? -c : c;
  }
  return 0;
}

/** Position of a document relative to a cursor: <0 before, 0 at, >0 after. */
function compareToCursor(doc: DocState, cursor: Cursor, orders: Order[], parent: string): number {
  if (cursor.values.length > orders.length) throw invalid('cursor has more values than orderBy');
  for (let i = 0; i < cursor.values.length; i++) {
    const order = orders[i]!;
    let bound = fromProto(cursor.values[i]!);
    if (order.key === NAME && 'string_value' in bound) {
      bound = { reference_value: `${parent}/${bound.string_value}` };
    }
    const c = compareValues(valueAt(doc, order.path)!, bound);
    if (c !== 0) return order.descending ? -c : c;
  }
  return 0;
}

function candidates(store: Store, parent: string, query: StructuredQuery): DocState[] {
  parseParentName(parent);
  if (query.from.length !== 1) throw invalid('a query needs exactly one collection selector');
  const { collection_id, all_descendants } = query.from[0]!;
  if (collection_id) checkCollectionId(collection_id);
  if (all_descendants) return store.descendants(parent, collection_id);
  if (!collection_id) throw invalid('a collection query needs a collection id');
  return store.list(parent, collection_id);
}

export function runQuery(store: Store, parent: string, query: StructuredQuery): QueryResult {
  if (query.has_find_nearest) throw unimplemented('vector search (find_nearest) is not supported');
  const inequalities = new Set<string>();
  const predicate = query.has_where ? compileFilter(query.where, inequalities) : () => true;
  const orders = effectiveOrders(query, inequalities);
  const collectionParent = `${parent}/${query.from[0]?.collection_id ?? ''}`;

  let docs = candidates(store, parent, query).filter(
    (doc) => orders.every((o) => valueAt(doc, o.path) !== undefined) && predicate(doc),
  );
  docs.sort((a, b) => compareByOrders(a, b, orders));
  if (query.has_start_at) {
    const { before } = query.start_at;
    docs = docs.filter((doc) => {
      const c = compareToCursor(doc, query.start_at, orders, collectionParent);
      return c > 0 || (c === 0 && before);
    });
  }
  if (query.has_end_at) {
    const { before } = query.end_at;
    docs = docs.filter((doc) => {
      const c = compareToCursor(doc, query.end_at, orders, collectionParent);
      return c < 0 || (c === 0 && !before);
    });
  }
  if (query.offset < 0) throw invalid('offset must not be negative');
  if (query.has_limit && query.limit.value < 0) throw invalid('limit must not be negative');
  const end = query.has_limit ? query.offset + query.limit.value : undefined;
  docs = docs.slice(query.offset, end);

  const projection = query.has_select
    ? query.select.fields.map((f) => parseFieldPath(f.field_path)).filter((p) => p[0] !== NAME)
    : undefined;
  return { docs, projection };
}

/** Identifies a result so a transaction can tell at commit whether it changed. */
export function fingerprint(docs: DocState[]): string {
  return docs.map((d) => `${d.name}@${d.updateTime}`).join('\n');
}
