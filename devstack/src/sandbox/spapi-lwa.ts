import type { IncomingMessage } from 'node:http';
import { seededRandom } from './shared.ts';
import { type Answer, json, lwaError, spApiErrors } from './spapi-answers.ts';

/**
 * The sandbox's Login with Amazon: the refresh_token grant that issues access tokens, and the
 * check of the `x-amz-access-token` each Reports API call carries.
 */

export interface SandboxLwaOptions {
  now: () => number;
  seed: string | number;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** Access token lifetime. */
  tokenTtlMs: number;
}

/** One sandbox's LWA: its endpoint, the check of its tokens, and how many it issued. */
export function sandboxLwa({
  now,
  seed,
  clientId,
  clientSecret,
  refreshToken,
  tokenTtlMs,
}: SandboxLwaOptions) {
  const accessTokens = new Map<string, number>(); // token -> expiry (ms)
  let tokensIssued = 0;

  const lwaToken = (req: IncomingMessage, raw: string): Answer => {
    let params: URLSearchParams;
    if ((req.headers['content-type'] ?? '').includes('json')) {
      try {
        params = new URLSearchParams(JSON.parse(raw) as Record<string, string>);
      } catch {
        return lwaError(400, 'invalid_request', 'The request body is not valid JSON');
      }
    } else {
      params = new URLSearchParams(raw);
    }
    const grant = params.get('grant_type');
    if (grant !== 'refresh_token') {
      return lwaError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant ?? ''}`);
    }
    for (const name of ['refresh_token', 'client_id', 'client_secret']) {
      if (!params.get(name)) {
        return lwaError(
          400,
          'invalid_request',
          `The request is missing a required parameter : ${name}`,
        );
      }
    }
    if (params.get('client_id') !== clientId || params.get('client_secret') !== clientSecret) {
      return lwaError(401, 'invalid_client', 'Client authentication failed');
    }
    if (params.get('refresh_token') !== refreshToken) {
      return lwaError(
        400,
        'invalid_grant',
        'The request has an invalid grant parameter : refresh_token',
      );
    }
    tokensIssued++;
    const token = `Atza|IwEBI.tollgate-sandbox.${tokensIssued}.${Math.floor(seededRandom(`${seed}:token:${tokensIssued}`)() * 1e12).toString(36)}`;
    accessTokens.set(token, now() + tokenTtlMs);
    return json(200, {
      access_token: token,
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: tokenTtlMs / 1000,
    });
  };

  const unauthorized = (message: string) => json(403, spApiErrors('Unauthorized', message));

  const authorize = (req: IncomingMessage): Answer | undefined => {
    const token = req.headers['x-amz-access-token'];
    const expires = typeof token === 'string' ? accessTokens.get(token) : undefined;
    if (expires === undefined) return unauthorized('Access to requested resource is denied.');
    if (expires <= now()) return unauthorized('The access token you provided has expired.');
    return undefined;
  };

  return { lwaToken, authorize, tokensIssued: () => tokensIssued };
}
