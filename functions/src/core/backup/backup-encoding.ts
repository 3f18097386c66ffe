import { documentPathProblem, fieldNameProblem } from '../storage/firestore-names';
import {
  BackupGeoPoint,
  type BackupMap,
  BackupReference,
  BackupTimestamp,
  type BackupValue,
  BackupVector,
  type EncodedValue,
  formatTimestamp,
  parseTimestamp,
} from './backup-value-model';

/**
 * Values of the model to and from the file's JSON: plain where JSON is exact, tagged with one
 * `$` key otherwise (backup-file.ts has the table).
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT64 = /^-?(?:0|[1-9]\d{0,18})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SPECIAL_DOUBLES = ['NaN', 'Infinity', '-Infinity', '-0'] as const;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets a property even when it is named `__proto__`. */
export function define<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function specialDouble(n: number): (typeof SPECIAL_DOUBLES)[number] | undefined {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(n, -0)) return '-0';
  return undefined;
}

export function fieldWhere(where: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? `${where}.${key}`
    : `${where}[${JSON.stringify(key)}]`;
}

/** Encodes one value of the model; throws a TypeError naming where an unsupported value is. */
export function encodeValue(value: BackupValue, where = 'value', inArray = false): EncodedValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    const special = specialDouble(value);
    return special ? { $double: special } : value;
  }
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) {
      throw new TypeError(`${where}: integer outside the 64-bit range`);
    }
    return { $int: value.toString() };
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof BackupTimestamp) return { $timestamp: formatTimestamp(value) };
  if (value instanceof BackupGeoPoint) {
    return { $geopoint: { latitude: value.latitude, longitude: value.longitude } };
  }
  if (value instanceof BackupReference) return { $ref: value.path };
  if (value instanceof BackupVector) return { $vector: [...value.values] };
  if (Array.isArray(value)) {
    if (inArray) throw new TypeError(`${where}: Firestore has no arrays directly in arrays`);
    return value.map((v, i) => encodeValue(v, `${where}[${i}]`, true));
  }
  if (isPlainObject(value)) {
    const out: Record<string, EncodedValue> = {};
    const keys = Object.keys(value);
    for (const key of keys) {
      const problem = fieldNameProblem(key);
      if (problem) throw new TypeError(`${where}: ${problem}`);
      define(out, key, encodeValue(value[key] as BackupValue, fieldWhere(where, key)));
    }
    return keys.length === 1 && keys[0]!.startsWith('$') ? { $map: out } : out;
  }
  throw new TypeError(`${where}: unsupported value ${Object.prototype.toString.call(value)}`);
}

/** Decodes a value of the file; problems are pushed to `issues` (the result is then partial). */
export function decodeValue(
  encoded: unknown,
  where: string,
  issues: string[],
  inArray = false,
): BackupValue {
  const bad = (message: string): null => {
    issues.push(`${where}: ${message}`);
    return null;
  };
  if (encoded === null || typeof encoded === 'boolean' || typeof encoded === 'string') {
    return encoded;
  }
  if (typeof encoded === 'number') {
    if (!Number.isFinite(encoded)) return bad('non-finite numbers are written as {"$double": ...}');
    return encoded === 0 ? 0 : encoded; // -0 reads as 0: canonical JSON writes both as 0
  }
  if (Array.isArray(encoded)) {
    if (inArray) return bad('Firestore has no arrays directly in arrays');
    return encoded.map((v, i) => decodeValue(v, `${where}[${i}]`, issues, true));
  }
  if (!isPlainObject(encoded)) return bad(`not a JSON value (${typeof encoded})`);
  const keys = Object.keys(encoded);
  const tag = keys.length === 1 && keys[0]!.startsWith('$') ? keys[0]! : undefined;
  if (tag === undefined) return decodeMap(encoded, where, issues);
  const body = encoded[tag];
  switch (tag) {
    case '$map':
      if (!isPlainObject(body)) return bad('$map holds an object');
      return decodeMap(body, where, issues);
    case '$timestamp': {
      const t = typeof body === 'string' ? parseTimestamp(body) : undefined;
      return t ?? bad('$timestamp is "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" within 0001..9999');
    }
    case '$bytes':
      if (typeof body !== 'string' || !BASE64.test(body)) return bad('$bytes is base64 text');
      return new Uint8Array(Buffer.from(body, 'base64'));
    case '$geopoint': {
      if (!isPlainObject(body) || Object.keys(body).length !== 2) {
        return bad('$geopoint is {"latitude", "longitude"}');
      }
      try {
        return new BackupGeoPoint(body.latitude as number, body.longitude as number);
      } catch (error) {
        return bad((error as Error).message);
      }
    }
    case '$ref': {
      const problem = typeof body === 'string' ? documentPathProblem(body) : 'not a string';
      return problem ? bad(`$ref: ${problem}`) : new BackupReference(body as string);
    }
    case '$vector':
      if (!Array.isArray(body) || !body.every((n) => typeof n === 'number' && Number.isFinite(n))) {
        return bad('$vector is an array of finite numbers');
      }
      return new BackupVector(body as number[]);
    case '$int': {
      if (typeof body !== 'string' || !INT64.test(body)) return bad('$int is a decimal string');
      const n = BigInt(body);
      return n < INT64_MIN || n > INT64_MAX ? bad('$int outside the 64-bit range') : n;
    }
    case '$double': {
      const index = SPECIAL_DOUBLES.indexOf(body as (typeof SPECIAL_DOUBLES)[number]);
      if (index < 0) return bad(`$double is one of ${SPECIAL_DOUBLES.join(', ')}`);
      return [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0][index]!;
    }
    default:
      return bad(`unknown tag ${JSON.stringify(tag)} (a map with one $ key is written as $map)`);
  }
}

export function decodeMap(
  encoded: Record<string, unknown>,
  where: string,
  issues: string[],
): BackupMap {
  const out: BackupMap = {};
  for (const key of Object.keys(encoded)) {
    const inner = fieldWhere(where, key);
    const problem = fieldNameProblem(key);
    if (problem) issues.push(`${inner}: ${problem}`);
    define(out, key, decodeValue(encoded[key], inner, issues));
  }
  return out;
}
