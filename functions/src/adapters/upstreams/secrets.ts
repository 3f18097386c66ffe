import { defineSecret } from 'firebase-functions/params';

/**
 * Upstream credentials, as Cloud Secret Manager secrets (`firebase functions:secrets:set NAME`).
 * A function reads a secret only when it lists it in its options; `secretsOf` says which
 * secrets each provider's functions need. The local stack writes sandbox values to
 * functions/.secret.local, which the Functions emulator reads instead.
 */
export const KEEPA_API_KEY = defineSecret('KEEPA_API_KEY');
export const SPAPI_LWA_CLIENT_ID = defineSecret('SPAPI_LWA_CLIENT_ID');
export const SPAPI_LWA_CLIENT_SECRET = defineSecret('SPAPI_LWA_CLIENT_SECRET');
export const SPAPI_REFRESH_TOKEN = defineSecret('SPAPI_REFRESH_TOKEN');
export const SMARTPROXY_USERNAME = defineSecret('SMARTPROXY_USERNAME');
export const SMARTPROXY_PASSWORD = defineSecret('SMARTPROXY_PASSWORD');

const byProvider = {
  keepa: [KEEPA_API_KEY],
  spapi: [SPAPI_LWA_CLIENT_ID, SPAPI_LWA_CLIENT_SECRET, SPAPI_REFRESH_TOKEN],
  smartproxy: [SMARTPROXY_USERNAME, SMARTPROXY_PASSWORD],
} as const;

export type UpstreamProvider = keyof typeof byProvider;

export function secretsOf(...providers: UpstreamProvider[]) {
  return providers.flatMap((provider) => [...byProvider[provider]]);
}
