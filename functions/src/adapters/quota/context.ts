import type { Firestore } from 'firebase-admin/firestore';
import { ConfigError, type RuntimeConfig } from '../../core/config';
import type { GateContext } from '../../core/quota/gate';
import type { MeterProjection } from '../../core/quota/meters';
import { loadRuntimeConfig } from '../config-repository';
import { type AllocationDoc, publishAllocation, readAllocation, sharesOf } from './allocations';
import type { CooldownStore } from './cooldowns';

/** How long an instance trusts its cached configuration and allocation. */
export const CONTEXT_CACHE_MS = 5_000;

/**
 * Assembles what the gate needs per call from cached reads: configuration and allocation
 * (5 s), the cooldown (1 s, in the cooldown store), and the local meter projection.
 */
export class ContextProvider {
  private config: { value: Promise<RuntimeConfig>; atMs: number } | undefined;
  private readonly allocations = new Map<string, { value: Promise<AllocationDoc>; atMs: number }>();

  constructor(
    private readonly db: Firestore,
    private readonly cooldowns: CooldownStore,
    private readonly meters: MeterProjection,
    private readonly now: () => number = Date.now,
  ) {}

  runtimeConfig(): Promise<RuntimeConfig> {
    const now = this.now();
    if (!this.config || now - this.config.atMs >= CONTEXT_CACHE_MS) {
      const value = loadRuntimeConfig(this.db);
      value.catch(() => {
        if (this.config?.value === value) this.config = undefined;
      });
      this.config = { value, atMs: now };
    }
    return this.config.value;
  }

  /**
   * The published allocation; published here when there is none yet, or when it predates a
   * configured category (one added straight to Firestore would otherwise have no share until
   * the next allocation update).
   */
  private allocation(
    provider: string,
    category: string,
    config: RuntimeConfig,
  ): Promise<AllocationDoc> {
    const now = this.now();
    const cached = this.allocations.get(provider);
    if (cached && now - cached.atMs < CONTEXT_CACHE_MS) return cached.value;
    const configured = config.categories.some((c) => c.id === category && c.provider === provider);
    const value = readAllocation(this.db, provider).then(async (doc) =>
      doc && (!configured || doc.categories[category])
        ? doc
        : (await publishAllocation(this.db, provider, config.categories, this.now())).doc,
    );
    value.catch(() => this.allocations.delete(provider));
    this.allocations.set(provider, { value, atMs: now });
    return value;
  }

  /** Forgets cached configuration and allocation (after an operator change). */
  invalidate(): void {
    this.config = undefined;
    this.allocations.clear();
  }

  async context(providerId: string, categoryId: string, cost = 1): Promise<GateContext> {
    const config = await this.runtimeConfig();
    const provider = config.providers.find((p) => p.id === providerId);
    if (!provider) {
      throw new ConfigError(`providers/${providerId}`, [{ path: '', message: 'not configured' }]);
    }
    const category = config.categories.find((c) => c.id === categoryId);
    const [allocation, cooldownUntilMs] = await Promise.all([
      this.allocation(providerId, categoryId, config),
      this.cooldowns.untilMs(providerId),
    ]);
    const bucket = provider.limits.find((l) => l.kind === 'tokenBucket');
    const needed = bucket && bucket.kind === 'tokenBucket' && bucket.allowNegative ? 1 : cost;
    return {
      provider,
      category,
      shares: sharesOf(allocation, categoryId),
      flags: config.flags,
      cooldownUntilMs,
      meterBlockedUntilMs: this.meters.blockedUntil(providerId, needed, this.now()),
    };
  }
}
