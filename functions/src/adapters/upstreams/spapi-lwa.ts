import { z } from 'zod';
import { upstreamFetch } from './http';
import { readErrorText } from './http-body';
import { readJson, safeJson } from './http-json';
import { SPAPI_PROVIDER } from './spapi-calls';
import { type UpstreamCall, UpstreamError, upstreamFailure } from './upstream-call';

/**
 * Login with Amazon for the SP-API Reports client: the access token every SP-API call carries,
 * exchanged for the refresh token, cached until shortly before it expires and shared by every
 * caller waiting for it.
 */

export interface LwaCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

const lwaTokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive(),
  refresh_token: z.string().optional(),
});
const lwaErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/** Refresh this long before LWA's expiry (at most half the token's lifetime). */
const TOKEN_MARGIN_MS = 60_000;

export class LwaAccessTokens {
  private token?: { value: string; refreshAtMs: number };
  private exchange?: Promise<string>;

  constructor(
    private readonly options: { credentials: LwaCredentials; lwaUrl: string },
    private readonly now: () => number,
    /** The client's HTTP helper settings for the exchange (its rate limits are reported). */
    private readonly call: (operation: 'lwaToken') => UpstreamCall,
  ) {}

  /** The cached access token, or one LWA exchange shared by every caller waiting for it. */
  accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAtMs) return Promise.resolve(this.token.value);
    this.exchange ??= this.exchangeToken().finally(() => {
      this.exchange = undefined;
    });
    return this.exchange;
  }

  dropToken(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private async exchangeToken(): Promise<string> {
    const call = this.call('lwaToken');
    const { clientId, clientSecret, refreshToken } = this.options.credentials;
    const requestedAt = this.now();
    const response = await upstreamFetch(
      this.options.lwaUrl,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientId,
          client_secret: clientSecret,
        }).toString(),
      },
      call,
    );
    if (!response.ok) {
      const text = await readErrorText(response, SPAPI_PROVIDER);
      const parsed = safeJson(text, lwaErrorSchema);
      const detail = parsed
        ? `${parsed.error}${parsed.error_description ? ` (${parsed.error_description})` : ''}`
        : `HTTP ${response.status}`;
      // 400 invalid_grant (refresh token) and 401 invalid_client: waiting will not fix them.
      const credentials = response.status === 400 || response.status === 401;
      throw upstreamFailure(
        new UpstreamError(
          SPAPI_PROVIDER,
          'lwaToken',
          credentials ? 'credentials' : 'http',
          `LWA refused the token exchange: ${detail}`,
          response.status,
        ),
      );
    }
    const body = await readJson(response, lwaTokenSchema, call);
    const lifetimeMs = body.expires_in * 1000;
    this.token = {
      value: body.access_token,
      refreshAtMs: requestedAt + lifetimeMs - Math.min(TOKEN_MARGIN_MS, lifetimeMs / 2),
    };
    return body.access_token;
  }
}
