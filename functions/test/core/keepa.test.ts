import { describe, expect, it } from 'vitest';
import {
  KeepaCsvType,
  keepaCurrentPrice,
  keepaMinuteToMs,
  keepaPeekFilter,
  keepaPriceHistory,
  keepaTypeHistory,
  msToKeepaMinute,
} from '../../src/core/upstreams/keepa-csv';
import {
  KEEPA_DEAL_QUERY_DEFAULTS,
  keepaDealQuery,
} from '../../src/core/upstreams/keepa-deal-request';
import {
  keepaDomain,
  keepaDomainIdProblem,
  keepaMarketplace,
} from '../../src/core/upstreams/keepa-domains';
import { keepaMeterReading, keepaSecondsUntilPositive } from '../../src/core/upstreams/keepa-meter';
import {
  keepaMaxAsinsPerRequest,
  keepaOfferPages,
} from '../../src/core/upstreams/keepa-product-request';

const DAY_MIN = 1440;
/** Keepa minute of a UTC date-time. */
const km = (iso: string) => msToKeepaMinute(Date.parse(iso));

describe('Keepa time', () => {
  it('counts minutes from 2011-01-01 UTC', () => {
    expect(keepaMinuteToMs(0)).toBe(Date.UTC(2011, 0, 1));
    expect(keepaMinuteToMs(DAY_MIN)).toBe(Date.UTC(2011, 0, 2));
    expect(msToKeepaMinute(Date.UTC(2026, 0, 10, 12, 30, 59, 999))).toBe(km('2026-01-10T12:30Z'));
    expect(keepaMinuteToMs(km('2026-01-10T12:30Z'))).toBe(Date.parse('2026-01-10T12:30Z'));
  });
});

describe('keepaPriceHistory', () => {
  it('maps [minute, cents] pairs to daily points in currency units, -1 as null', () => {
    const csv = [
      km('2026-01-01T08:00Z'),
      1999,
      km('2026-01-03T00:00Z'),
      -1,
      km('2026-01-05T23:59Z'),
      2450,
    ];
    expect(keepaPriceHistory(csv)).toEqual([
      { date: '2026-01-01', price: 19.99 },
      { date: '2026-01-03', price: null },
      { date: '2026-01-05', price: 24.5 },
    ]);
  });

  it("keeps a day's last price, sorts by time and ignores a trailing half entry", () => {
    const csv = [
      km('2026-01-02T10:00Z'),
      500,
      km('2026-01-01T09:00Z'),
      100,
      km('2026-01-01T18:00Z'),
      150,
      km('2026-01-02T11:00Z'),
      -1,
      km('2026-01-04T00:00Z'),
    ];
    expect(keepaPriceHistory(csv)).toEqual([
      { date: '2026-01-01', price: 1.5 },
      { date: '2026-01-02', price: null },
    ]);
  });

  it('handles no data, a divisor of 1 (yen) and [minute, price, shipping] triples', () => {
    expect(keepaPriceHistory(null)).toEqual([]);
    expect(keepaPriceHistory(undefined)).toEqual([]);
    expect(keepaPriceHistory([])).toEqual([]);
    expect(keepaPriceHistory([km('2026-02-01T00:00Z'), 1280], { divisor: 1 })).toEqual([
      { date: '2026-02-01', price: 1280 },
    ]);
    const triples = [
      km('2026-02-01T00:00Z'),
      1000,
      499,
      km('2026-02-02T00:00Z'),
      1000,
      -1,
      km('2026-02-03T00:00Z'),
      -1,
      499,
    ];
    expect(keepaPriceHistory(triples, { withShipping: true })).toEqual([
      { date: '2026-02-01', price: 14.99 },
      { date: '2026-02-02', price: 10 },
      { date: '2026-02-03', price: null },
    ]);
  });

  it("picks a type's history from a product's csv with the type's layout", () => {
    const csv = [
      [km('2026-03-01T00:00Z'), 700],
      null,
      [km('2026-03-01T00:00Z'), 900],
      ...new Array<null>(15).fill(null),
      [km('2026-03-02T00:00Z'), 800, 100],
    ];
    expect(keepaTypeHistory(csv, KeepaCsvType.AMAZON)).toEqual([{ date: '2026-03-01', price: 7 }]);
    expect(keepaTypeHistory(csv, KeepaCsvType.NEW)).toEqual([]);
    expect(keepaTypeHistory(csv, KeepaCsvType.BUY_BOX_SHIPPING)).toEqual([
      { date: '2026-03-02', price: 9 },
    ]);
    expect(keepaTypeHistory(null, KeepaCsvType.NEW)).toEqual([]);
  });
});

describe('current values and the peek filter', () => {
  const current = (price: number, rank: number) => {
    const values = new Array<number>(18).fill(-1);
    values[KeepaCsvType.NEW] = price;
    values[KeepaCsvType.SALES] = rank;
    return values;
  };

  it('reads current prices', () => {
    expect(keepaCurrentPrice(current(2599, 10), KeepaCsvType.NEW)).toBe(25.99);
    expect(keepaCurrentPrice(current(2599, 10), KeepaCsvType.AMAZON)).toBeNull();
    expect(keepaCurrentPrice(undefined, KeepaCsvType.NEW)).toBeNull();
  });

  it('passes products with a current price and a sales rank below the bound', () => {
    const filter = keepaPeekFilter();
    const product = (values: number[] | null) => ({ asin: 'B1', stats: { current: values } });
    expect(filter(product(current(999, 99_999)))).toBe(true);
    expect(filter(product(current(999, 100_000)))).toBe(false);
    expect(filter(product(current(-1, 5)))).toBe(false);
    expect(filter(product(current(999, -1)))).toBe(false);
    expect(filter(product(null))).toBe(false);
    expect(filter({ asin: 'B1' })).toBe(false);
    const strict = keepaPeekFilter({ maxSalesRank: 1_000, priceType: KeepaCsvType.AMAZON });
    const amazon = current(-1, 500);
    amazon[KeepaCsvType.AMAZON] = 1000;
    expect(strict(product(amazon))).toBe(true);
    expect(strict(product(current(999, 500)))).toBe(false);
  });
});

describe('domains', () => {
  it('names marketplaces after the Amazon domain', () => {
    expect(keepaMarketplace(3)).toBe('amazon-de');
    expect(keepaMarketplace(2)).toBe('amazon-co-uk');
    expect(keepaMarketplace(1)).toBe('amazon-com');
    expect(keepaDomain(5)).toMatchObject({ currency: 'JPY', divisor: 1 });
    expect(keepaMarketplace(12)).toBe('amazon-com-br');
    expect(() => keepaDomain(42)).toThrow(RangeError);
  });

  it('knows only the domains Keepa serves: 7 is reserved, 13 does not exist', () => {
    for (const id of [0, 7, 13]) expect(() => keepaDomain(id)).toThrow(/1, 2, 3, 4, 5, 6, 8/);
    expect(keepaDomainIdProblem(3)).toBeUndefined();
    expect(keepaDomainIdProblem(' 3')).toBeUndefined();
    expect(keepaDomainIdProblem('7')).toContain('not "7"');
    expect(keepaDomainIdProblem(2.5)).toBeDefined();
    expect(keepaDomainIdProblem(true)).toBeDefined();
  });
});

describe('request rules', () => {
  it('cuts product requests at 100 ASINs, 20 with offers; offers come in pages of 10', () => {
    expect(keepaMaxAsinsPerRequest()).toBe(100);
    expect(keepaMaxAsinsPerRequest({ stats: 90, history: false })).toBe(100);
    expect(keepaMaxAsinsPerRequest({ offers: 20 })).toBe(20);
    expect([20, 21, 40, 100].map(keepaOfferPages)).toEqual([2, 3, 4, 10]);
  });

  it('completes a deal query with the DealRequest defaults and refuses what Keepa would', () => {
    expect(keepaDealQuery({}, 3)).toEqual({ ...KEEPA_DEAL_QUERY_DEFAULTS, domainId: 3 });
    expect(keepaDealQuery({ page: 2, priceTypes: [0], undefinedFilter: undefined }, 1)).toEqual({
      ...KEEPA_DEAL_QUERY_DEFAULTS,
      page: 2,
      priceTypes: [0],
      domainId: 1,
    });
    // The defaults are not shared: changing one query changes no other.
    const query = keepaDealQuery({}, 3);
    query.priceTypes.push(2);
    expect(KEEPA_DEAL_QUERY_DEFAULTS.priceTypes).toEqual([KeepaCsvType.NEW]);
    for (const bad of [
      { domainId: 7 },
      { priceTypes: [] },
      { priceTypes: [1, 2] },
      { priceTypes: [11] },
      { dateRange: -1 },
      { sortType: -1 },
      { sortType: 0 },
      { page: 0.5 },
    ]) {
      expect(() => keepaDealQuery(bad, 3)).toThrow(RangeError);
    }
  });
});

describe('meters', () => {
  const fields = {
    tokensLeft: 240,
    refillIn: 12_000,
    refillRate: 20,
    tokensConsumed: 7,
    timestamp: 1_700_000_000_000,
  };

  it("maps Keepa's meter fields into a reading", () => {
    expect(keepaMeterReading(fields, { nowMs: 5 })).toEqual({
      balance: 240,
      atMs: 1_700_000_000_000,
      ratePerSecond: 20 / 60,
      capacity: 1_200,
      consumed: 7,
    });
    const { timestamp: _, tokensConsumed: __, ...bare } = fields;
    expect(keepaMeterReading({ ...bare, tokensLeft: 5_000 }, { nowMs: 5, capacity: 300 })).toEqual({
      balance: 5_000,
      atMs: 5,
      ratePerSecond: 20 / 60,
      capacity: 300,
    });
    // Without a configured capacity it is never below what Keepa says is there.
    expect(keepaMeterReading({ ...bare, tokensLeft: 5_000 }, { nowMs: 5 }).capacity).toBe(5_000);
  });

  it('derives the wait until the balance is positive again', () => {
    expect(keepaSecondsUntilPositive({ tokensLeft: 0, refillIn: 12_000, refillRate: 20 })).toBe(12);
    expect(keepaSecondsUntilPositive({ tokensLeft: -20, refillIn: 45_000, refillRate: 5 })).toBe(
      45 + 240,
    );
    expect(keepaSecondsUntilPositive({ tokensLeft: -19, refillIn: 45_000, refillRate: 5 })).toBe(
      45 + 180,
    );
    expect(keepaSecondsUntilPositive({ tokensLeft: 3, refillIn: 100, refillRate: 5 })).toBe(1);
    expect(keepaSecondsUntilPositive({ tokensLeft: -1, refillIn: 0, refillRate: 0 })).toBe(3600);
  });
});
