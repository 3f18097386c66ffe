// SP-API in the pipeline (vendor real-time sales): its Reports client and the auto-sync fetcher
// that stores the reports' sales.

import { db } from '../firebase';
import type { AutoSyncFetcher } from '../pipeline/autosync-input';
import { SalesRepository } from '../pipeline/sales-repository';
import { instanceQuotaEngine } from '../quota/instance-quota-engine';
import { cached, instanceRawPayloads, providerConfig, required } from './provider-clients';
import { SPAPI_LWA_CLIENT_ID, SPAPI_LWA_CLIENT_SECRET, SPAPI_REFRESH_TOKEN } from './secrets';
import { SpApiReportsClient } from './spapi-reports';
import { createRealtimeSalesFetcher } from './spapi-sales-fetcher';

export async function spapiClient(): Promise<SpApiReportsClient> {
  const provider = await providerConfig('spapi');
  const marketplaceIds = provider.settings.marketplaceIds;
  const options = {
    baseUrl: required(provider, 'baseUrl'),
    lwaUrl: provider.endpoints.lwa ?? 'https://api.amazon.com/auth/o2/token',
    marketplaceIds: Array.isArray(marketplaceIds) ? marketplaceIds : ['ATVPDKIKX0DER'],
    credentials: {
      clientId: SPAPI_LWA_CLIENT_ID.value(),
      clientSecret: SPAPI_LWA_CLIENT_SECRET.value(),
      refreshToken: SPAPI_REFRESH_TOKEN.value(),
    },
  };
  return cached(
    'spapi',
    options,
    () =>
      new SpApiReportsClient({
        ...options,
        // SP-API announces each operation's rate; the engine warns when it is below the config.
        onRateLimit: (operation, rate) =>
          void instanceQuotaEngine()
            .observeRateLimit('spapi', operation, String(rate))
            .catch(() => undefined),
      }),
  );
}

/** The auto-sync fetcher of vendor real-time sales: SP-API reports stored as sales. */
export const fetchRealtimeSales: AutoSyncFetcher = async (window, options) => {
  const provider = await providerConfig('spapi');
  const fetcher = createRealtimeSalesFetcher({
    client: await spapiClient(),
    // The cycle's Firestore: an operator's refresh stores through its audited one.
    store: new SalesRepository(options?.db ?? db()),
    pollIntervalMs: Number(provider.settings.reportPollMs ?? 15_000),
    raw: instanceRawPayloads(),
  });
  return fetcher(window, options);
};
