import type { z } from 'zod';
import { formatPath } from '../../core/config';
import { readText } from './http-body';
import { type UpstreamCall, UpstreamError, upstreamFailure } from './upstream-call';

/** JSON answers parsed against a schema: a malformed body is a typed error, never a crash. */

/** Parses a JSON body against `schema`; anything else is a typed `malformed` error. */
export function parseBody<T extends z.ZodType>(
  text: string,
  schema: T,
  call: UpstreamCall,
  status?: number,
): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw upstreamFailure(
      new UpstreamError(
        call.provider,
        call.operation,
        'malformed',
        `body is not JSON (${text.slice(0, 60)})`,
        status,
      ),
    );
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw upstreamFailure(
    new UpstreamError(
      call.provider,
      call.operation,
      'malformed',
      `unexpected body at ${formatPath(issue?.path ?? []) || '(root)'}: ${issue?.message}`,
      status,
    ),
  );
}

/** readText then parseBody. */
export async function readJson<T extends z.ZodType>(
  response: Response,
  schema: T,
  call: UpstreamCall,
): Promise<z.infer<T>> {
  return parseBody(await readText(response, call), schema, call, response.status);
}

/** `text` parsed against `schema`, or undefined: for bodies read only if they happen to fit. */
export function safeJson<T extends z.ZodType>(text: string, schema: T): z.infer<T> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
