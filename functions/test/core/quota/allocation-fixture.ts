import { categorySchema, type Provider } from '../../../src/core/config';
import { type Allocation, nextAllocation } from '../../../src/core/quota/epochs';

/** The first published allocation of a provider whose categories hold these shares. */
export function allocationFor(provider: Provider, shares: Record<string, number>): Allocation {
  const categories = Object.entries(shares).map(([id, sharePercent]) =>
    categorySchema.parse({ id, provider: provider.id, sharePercent, minSharePercent: 0 }),
  );
  return nextAllocation(undefined, provider, categories, 0).allocation;
}
