/** Keepa's domains: the Amazon locales it serves, their marketplaces and currencies. */

export interface KeepaDomain {
  id: number;
  host: string;
  /** Tollgate's marketplace id for products of this domain (`amazon-de`). */
  marketplace: string;
  currency: string;
  /** Keepa prices are integers in the currency's smallest unit: divide by this. */
  divisor: number;
}

const domain = (id: number, host: string, currency: string, divisor = 100): KeepaDomain => ({
  id,
  host,
  marketplace: host.replace(/\./g, '-'),
  currency,
  divisor,
});

/**
 * Keepa's domain ids: the ordinals of the official clients' Amazon locale enum (keepacom/api_backend
 * `structs/AmazonLocale.java`: RESERVED, US, GB, DE, FR, JP, CA, RESERVED2, IT, ES, IN, MX, BR;
 * keepacom/php_api `src/objects/AmazonLocale.php`). 0 and 7 are reserved (7 was amazon.cn, no
 * longer served); there is no 13. Requests for any other id are refused.
 */
export const KEEPA_DOMAINS: Readonly<Record<number, KeepaDomain>> = Object.freeze({
  1: domain(1, 'amazon.com', 'USD'),
  2: domain(2, 'amazon.co.uk', 'GBP'),
  3: domain(3, 'amazon.de', 'EUR'),
  4: domain(4, 'amazon.fr', 'EUR'),
  5: domain(5, 'amazon.co.jp', 'JPY', 1),
  6: domain(6, 'amazon.ca', 'CAD'),
  8: domain(8, 'amazon.it', 'EUR'),
  9: domain(9, 'amazon.es', 'EUR'),
  10: domain(10, 'amazon.in', 'INR'),
  11: domain(11, 'amazon.com.mx', 'MXN'),
  12: domain(12, 'amazon.com.br', 'BRL'),
});

/** The domain ids Keepa serves, ascending: 1-6 and 8-12. */
export const KEEPA_DOMAIN_IDS: readonly number[] = Object.freeze(
  Object.keys(KEEPA_DOMAINS)
    .map(Number)
    .sort((a, b) => a - b),
);

export function isKeepaDomainId(value: unknown): value is number {
  return typeof value === 'number' && Object.hasOwn(KEEPA_DOMAINS, value);
}

/**
 * What is wrong with a configured Keepa domain id (the `keepa` provider's `settings.domainId`,
 * a number or a numeric string), or undefined when Keepa serves it.
 */
export function keepaDomainIdProblem(value: unknown): string | undefined {
  const id = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (isKeepaDomainId(id)) return undefined;
  return `Keepa serves domain ids ${KEEPA_DOMAIN_IDS.join(', ')} (the official clients' AmazonLocale; 7 is reserved), not ${JSON.stringify(value)}`;
}

export function keepaDomain(domainId: number): KeepaDomain {
  if (!isKeepaDomainId(domainId)) throw new RangeError(keepaDomainIdProblem(domainId));
  return KEEPA_DOMAINS[domainId] as KeepaDomain;
}

/** `amazon-de` for domain 3, `amazon-co-uk` for 2, `amazon-com` for 1. */
export function keepaMarketplace(domainId: number): string {
  return keepaDomain(domainId).marketplace;
}
