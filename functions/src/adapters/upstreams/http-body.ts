import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { KIB } from '../../core/storage/payloads';
import { upstreamBytes } from '../observability/metrics';
import {
  DEFAULT_MAX_BODY_BYTES,
  type UpstreamCall,
  UpstreamError,
  upstreamFailure,
} from './upstream-call';

/**
 * Reading an answer's body under a cap: streamed and counted as it arrives, gunzipped on the
 * way when asked, and aborted (the upstream told to stop sending) once past the call's limit.
 */

const utf8 = new TextDecoder();

/** Thrown inside a body read when it passes its cap; turned into an `oversized` error. */
class BodyTooLarge extends Error {
  constructor(
    readonly limit: number,
    readonly seen: number,
    readonly inflated: boolean,
    readonly declared = false,
  ) {
    super('body too large');
  }
}

/** Thrown inside a body read when the transfer itself fails (timeout, network). */
class TransferFailed extends Error {
  constructor(readonly reason: unknown) {
    super('transfer failed');
  }
}

export interface ReadBodyOptions {
  /** Names the body in errors ('the body' by default). */
  what?: string;
  /**
   * Inflates the body as gzip while it streams (for documents that are gzip files, not
   * Content-Encoding), aborting once the inflated bytes pass `maxBytes`: a gzip bomb costs at
   * most that much memory. A body that does not inflate is a `malformed` error.
   */
  gunzip?: { maxBytes: number };
}

function oversized(
  call: UpstreamCall,
  status: number,
  what: string,
  error: BodyTooLarge,
): UpstreamError {
  const size = error.inflated ? 'inflates to more than' : 'is larger than';
  return upstreamFailure(
    new UpstreamError(
      call.provider,
      call.operation,
      'oversized',
      `${what} ${size} ${error.limit} bytes, the limit of ${call.operation}: ${
        error.declared
          ? `refused unread (Content-Length ${error.seen})`
          : `aborted after ${error.seen} bytes`
      }`,
      status,
    ),
  );
}

/**
 * Streams the body into memory, counting what arrives: past `limit` (or declaring a larger
 * Content-Length) it is aborted (the upstream is told to stop sending) with BodyTooLarge; with
 * `inflateLimit` it is gunzipped as it streams and aborted once the output passes that. A
 * failed transfer is TransferFailed; anything else thrown comes from inflating.
 */
async function collect(
  response: Response,
  provider: string,
  limit: number,
  inflateLimit?: number,
): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new BodyTooLarge(limit, declared, false, true);
  }
  const body = response.body;
  if (!body) return Buffer.alloc(0);
  let received = 0;
  // What stopped the read, kept aside: tearing the pipeline down raises an AbortError that
  // would otherwise stand in for it.
  let stopped: BodyTooLarge | TransferFailed | undefined;
  const stop = (reason: BodyTooLarge | TransferFailed) => {
    stopped ??= reason;
    return reason;
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const reader = body!.getReader();
    let done = false;
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          throw stop(new TransferFailed(error));
        }
        if (next.done) {
          done = true;
          return;
        }
        received += next.value.byteLength;
        if (received > limit) throw stop(new BodyTooLarge(limit, received, false));
        yield next.value;
      }
    } finally {
      // Aborted (too large, or the consumer stopped): tell the upstream to stop sending.
      if (!done) await reader.cancel().catch(() => undefined);
    }
  }
  const parts: Buffer[] = [];
  try {
    if (inflateLimit === undefined) {
      for await (const chunk of chunks()) {
        parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
    } else {
      let inflated = 0;
      await pipeline(
        Readable.from(chunks()),
        createGunzip(),
        async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) {
            inflated += chunk.length;
            if (inflated > inflateLimit) {
              throw stop(new BodyTooLarge(inflateLimit, inflated, true));
            }
            parts.push(chunk);
          }
        },
      );
    }
  } catch (error) {
    throw stopped ?? error;
  } finally {
    upstreamBytes.inc({ provider }, received);
  }
  return Buffer.concat(parts);
}

/**
 * The body as bytes, streamed and counted: a body past the call's `maxBodyBytes` (or declaring
 * a larger Content-Length) is aborted unread, an `oversized` UpstreamError; a transfer cut by
 * the timeout or the network is a 'timeout' or 'network' one. Bytes received are metered.
 */
export async function readBytes(
  response: Response,
  call: UpstreamCall,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  const what = options.what ?? 'the body';
  const limit = call.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  try {
    return await collect(response, call.provider, limit, options.gunzip?.maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) throw oversized(call, response.status, what, error);
    if (error instanceof TransferFailed) {
      throw bodyReadFailure(error.reason, call.provider, call.operation, what, response.status);
    }
    // Only inflating throws anything else.
    throw upstreamFailure(
      new UpstreamError(
        call.provider,
        call.operation,
        'malformed',
        `${what} is not valid gzip: ${(error as Error).message}`,
        response.status,
        { cause: error },
      ),
    );
  }
}

/** Error answers (a 4xx's explanation, a 429's meter fields) are read up to this much. */
export const ERROR_BODY_BYTES = 64 * KIB;

/**
 * The text of an answer read only for what it might explain (an error body): at most
 * ERROR_BODY_BYTES; '' when it is larger or cannot be read. Never throws, never counts an error.
 */
export async function readErrorText(response: Response, provider: string): Promise<string> {
  try {
    return utf8.decode(await collect(response, provider, ERROR_BODY_BYTES));
  } catch {
    return '';
  }
}

/**
 * Reads the body as text (UTF-8, as `Response.text()` decodes it), streamed and capped by the
 * call's `maxBodyBytes` (see readBytes); a body cut by the timeout is a timeout.
 */
export async function readText(
  response: Response,
  call: UpstreamCall,
  options: Omit<ReadBodyOptions, 'gunzip'> = {},
): Promise<string> {
  return utf8.decode(await readBytes(response, call, options));
}

/** A body that could not be read: cut by the timeout, or by the network. Counted and logged. */
export function bodyReadFailure(
  error: unknown,
  provider: string,
  operation: string,
  what: string,
  status: number,
): UpstreamError {
  const timedOut = (error as Error).name === 'TimeoutError';
  return upstreamFailure(
    new UpstreamError(
      provider,
      operation,
      timedOut ? 'timeout' : 'network',
      `reading ${what} failed: ${(error as Error).message}`,
      status,
      { cause: error },
    ),
  );
}
