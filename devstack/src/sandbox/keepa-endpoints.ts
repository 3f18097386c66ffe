import type { ServerResponse } from 'node:http';
import type { KeepaBucket } from './keepa-bucket.ts';
import { sandboxDealCategories, sandboxDeals } from './keepa-deals.ts';
import { invalid, reply } from './keepa-http.ts';
import { sandboxProduct, sandboxProductTokens } from './keepa-products.ts';
import {
  DEAL_COST,
  dealQueryProblem,
  domainMessage,
  isDomain,
  MAX_ASINS,
  MAX_ASINS_WITH_OFFERS,
} from './keepa-rules.ts';
import type { KeepaSandboxOptions, KeepaSandboxState } from './keepa-types.ts';

/**
 * The sandbox's metered endpoints, /product and /deal: the meter fields every answer carries,
 * Keepa's charging rule, and the answers, 200, 400 or 429.
 */

/** What the sandbox counts; the endpoints add to it. */
export interface KeepaCounts {
  served: number;
  dealsServed: number;
  rejected: number;
  tokensConsumed: number;
}

export interface KeepaEndpointsOptions {
  opts: KeepaSandboxOptions;
  now: () => number;
  bucket: KeepaBucket;
  refillRate: number;
  /** Deals each domain's list holds. */
  totalDeals: number;
  counts: KeepaCounts;
  productRequests: KeepaSandboxState['productRequests'];
  dealQueries: KeepaSandboxState['dealQueries'];
}

/** The endpoints, and the answers the server gives on their behalf (the meter, a 429). */
export function keepaEndpoints({
  opts,
  now,
  bucket,
  refillRate,
  totalDeals,
  counts,
  productRequests,
  dealQueries,
}: KeepaEndpointsOptions) {
  const status = () => {
    bucket.advance();
    return {
      timestamp: now(),
      tokensLeft: bucket.balance,
      refillIn: bucket.refillIn(),
      refillRate,
      tokenFlowReduction: 0,
    };
  };

  /** Keepa answers errors with the meter fields too; nothing was charged. */
  const uncharged = () => ({ ...status(), tokensConsumed: 0, processingTimeInMs: 0 });

  /**
   * Not enough tokens: 429, the meter fields say when there will be (`refillIn`, with
   * `tokensLeft` and `refillRate`), as the official clients read them. No Retry-After.
   */
  const tooMany = (res: ServerResponse) => {
    counts.rejected++;
    reply(res, 429, uncharged());
  };

  const badRequest = (res: ServerResponse, message: string) =>
    reply(res, 400, { ...invalid(message), ...uncharged() });

  /** Keepa's rule: runs while the balance is positive, charged in full. False: answered 429. */
  const charge = (res: ServerResponse, cost: number): boolean => {
    bucket.advance();
    if (bucket.balance <= 0) {
      tooMany(res);
      return false;
    }
    bucket.balance -= cost;
    counts.tokensConsumed += cost;
    return true;
  };

  const deal = (text: string | null | undefined, res: ServerResponse) => {
    let selection: unknown;
    try {
      selection = JSON.parse(text ?? '');
    } catch {
      badRequest(res, 'the query (selection) must be JSON');
      return;
    }
    if (!selection || typeof selection !== 'object' || Array.isArray(selection)) {
      badRequest(res, 'the query (selection) must be a JSON object');
      return;
    }
    const query = selection as Record<string, unknown>;
    const problem = dealQueryProblem(query);
    if (problem) {
      badRequest(res, problem);
      return;
    }
    if (!charge(res, DEAL_COST)) return;
    counts.dealsServed++;
    dealQueries.push(query);
    if (dealQueries.length > 1_000) dealQueries.shift();
    const domainId = query.domainId as number;
    const dr = sandboxDeals(domainId, (query.page as number | undefined) ?? 0, now(), {
      seed: opts.seed,
      total: totalDeals,
    });
    reply(res, 200, {
      ...status(),
      tokensConsumed: DEAL_COST,
      processingTimeInMs: 0,
      deals: { dr, ...sandboxDealCategories(totalDeals) },
    });
  };

  const product = (q: URLSearchParams, res: ServerResponse) => {
    const domain = Number(q.get('domain'));
    if (!isDomain(domain)) {
      badRequest(res, domainMessage('domain'));
      return;
    }
    const asins = (q.get('asin') ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    let offers: number | undefined;
    if (q.has('offers')) {
      offers = Number(q.get('offers'));
      if (!Number.isInteger(offers) || offers < 20 || offers > 100) {
        badRequest(res, 'offers must be an integer between 20 and 100');
        return;
      }
    }
    const most = offers === undefined ? MAX_ASINS : MAX_ASINS_WITH_OFFERS;
    if (asins.length === 0 || asins.length > most) {
      badRequest(
        res,
        offers === undefined
          ? `asin must list 1 to ${MAX_ASINS} ASINs`
          : `asin must list 1 to ${MAX_ASINS_WITH_OFFERS} ASINs when offers is used`,
      );
      return;
    }
    let update: number | undefined;
    if (q.has('update')) {
      update = Number(q.get('update'));
      if (!Number.isInteger(update) || update < -1) {
        badRequest(res, 'update must be an integer of at least -1');
        return;
      }
    }
    const t = now();
    const withHistory = q.get('history') !== '0';
    const products = asins.map((asin) => {
      const p = sandboxProduct(asin, domain, t, { seed: opts.seed, stats: q.has('stats'), offers });
      if (!withHistory) p.csv = null;
      return p;
    });
    const cost = sandboxProductTokens(products, { offers, update });
    if (!charge(res, cost)) return;
    counts.served++;
    productRequests.push({ asins: asins.length, offers: offers !== undefined });
    if (productRequests.length > 1_000) productRequests.shift();
    reply(res, 200, { ...status(), tokensConsumed: cost, processingTimeInMs: 0, products });
  };

  return { uncharged, tooMany, deal, product };
}
