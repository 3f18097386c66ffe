// Keepa's refusals as typed errors: a non-2xx answer (not 429, not 5xx) becomes an UpstreamError
// of the kind its status and message say (credentials, configuration or http).
import { z } from 'zod';
import { readErrorText } from './http-body';
import { type UpstreamCall, UpstreamError, upstreamFailure } from './upstream-call';

/** RequestError (api_backend structs/RequestError.java): type, message, details. */
const errorBodySchema = z.object({
  error: z
    .object({
      type: z.string().nullish(),
      message: z.string().nullish(),
      details: z.unknown().optional(),
    })
    .nullish(),
});

/** Maps a non-2xx answer (below 500, not 429: the helper handled those) to a typed error. */
export async function keepaFailure(
  response: Response,
  call: UpstreamCall,
  params: Record<string, string>,
): Promise<UpstreamError> {
  const text = await readErrorText(response, call.provider);
  const detail = keepaErrorMessage(text);
  const { status } = response;
  const fail = (kind: UpstreamError['kind'], message: string) =>
    upstreamFailure(new UpstreamError(call.provider, call.operation, kind, message, status));
  if (status === 400 && detail && /\bkey\b|accesskey|apikey/i.test(detail)) {
    return fail('credentials', `Keepa refused the API key (HTTP 400): ${detail}`);
  }
  if (status === 400) {
    const sent = Object.entries(params)
      .filter(([name]) => name !== 'asin' && name !== 'selection')
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    return fail(
      'configuration',
      `Keepa rejected the request parameters${sent ? ` (${sent})` : ''}: ${detail ?? 'HTTP 400'}. Fix the configuration or the call; retrying cannot help`,
    );
  }
  if (status === 401 || status === 402 || status === 403) {
    const what =
      status === 402
        ? 'the Keepa account has no active subscription (HTTP 402)'
        : `Keepa refused the API key (HTTP ${status})`;
    return fail('credentials', `${what}${detail ? `: ${detail}` : ''}`);
  }
  if (status === 404 || status === 405) {
    return fail(
      'configuration',
      `Keepa answered ${status === 404 ? 'not found' : 'method not allowed'} (HTTP ${status}) for ${call.operation}: check the provider's baseUrl and the plan's access${detail ? `: ${detail}` : ''}`,
    );
  }
  return fail('http', `HTTP ${status}${detail ? `: ${detail}` : ''}`);
}

function keepaErrorMessage(text: string): string | undefined {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (!parsed.success || !parsed.data.error) return undefined;
    const { type, message } = parsed.data.error;
    return [type, message].filter(Boolean).join(': ') || undefined;
  } catch {
    return text.trim().slice(0, 200) || undefined;
  }
}
