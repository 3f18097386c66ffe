import type { Firestore } from 'firebase-admin/firestore';
import { ConfigError, type Provider, type RuntimeConfig } from '../../core/config';
import type { Allocation } from '../../core/quota/epochs';
import type { GateContext } from '../../core/quota/gate-ports';
import type { MeterProjection } from '../../core/quota/meters';
import { logger } from '../../log';
import { loadRuntimeConfig } from '../config-repository';
import { isBehind, publishAllocation, readAllocation } from './allocations';
import type { CooldownStore } from './cooldowns';
import type { MeterStore } from './meters-store';

/** How long an instance trusts its cached configuration and allocation. */
export const CONTEXT_CACHE_MS = 5_000;

/**
 * Assembles what the gate needs per call from cached reads: configuration and allocation
 * (5 s), the cooldown (1 s, in the cooldown store), and the meter projection (the local one,
 * or the shared reading when newer: 1 s, in the meter store).
 */
export class ContextProvider {
  private config: { value: Promise<RuntimeConfig>; atMs: number } | undefined;
  /** The last configuration read successfully, for answers that cannot wait for a read. */
  private lastConfig: RuntimeConfig | undefined;
  private readonly allocations = new Map<string, { value: Promise<Allocation>; atMs: number }>();

  constructor(
    private readonly db: Firestore,
    private readonly cooldowns: CooldownStore,
    private readonly meters: MeterProjection,
    private readonly now: () => number = Date.now,
    private readonly sharedMeters?: MeterStore,
  ) {}

  runtimeConfig(): Promise<RuntimeConfig> {
    const now = this.now();
    if (!this.config || now - this.config.atMs >= CONTEXT_CACHE_MS) {
      const value = loadRuntimeConfig(this.db);
      value.then(
        (config) => {
          this.lastConfig = config;
        },
        () => {
          if (this.config?.value === value) this.config = undefined;
        },
      );
      this.config = { value, atMs: now };
    }
    return this.config.value;
  }

  /** The provider as the last successful configuration read had it, without reading. */
  lastKnownProvider(id: string): Provider | undefined {
    return this.lastConfig?.providers.find((p) => p.id === id);
  }

  /**
   * The published allocation; published here when there is none yet, or when it lags the
   * configuration: a category added straight to Firestore would otherwise have no share, an
   * edited limit would not take effect, and a share change whose publication was lost (its
   * instance died after the commit) would wait for the next allocation update.
   */
  private allocation(provider: Provider, config: RuntimeConfig): Promise<Allocation> {
    const now = this.now();
    const cached = this.allocations.get(provider.id);
    if (cached && now - cached.atMs < CONTEXT_CACHE_MS) return cached.value;
    const value = readAllocation(this.db, provider.id).then(async (doc) => {
      if (doc && !isBehind(doc, provider, config.categories, this.now())) return doc;
      try {
        return (await publishAllocation(this.db, provider.id, this.now())).allocation;
      } catch (error) {
        // What is published is what every instance gates by: when catching up fails (contention
        // on the document, a deadline), serve it as it is and try again after the cache time,
        // rather than fail the call and retry the transaction on every call.
        if (!doc || doc.limits.length === 0) throw error;
        logger.warn(
          { err: error, provider: provider.id },
          'allocation lags the configuration; publishing it failed, serving the published one',
        );
        return doc;
      }
    });
    value.catch(() => this.allocations.delete(provider.id));
    this.allocations.set(provider.id, { value, atMs: now });
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
      this.allocation(provider, config),
      this.cooldowns.untilMs(providerId),
      this.sharedMeters?.refresh(providerId), // adopted into this.meters when newer
    ]);
    const bucket = provider.limits.find((l) => l.kind === 'tokenBucket');
    const needed = bucket && bucket.kind === 'tokenBucket' && bucket.allowNegative ? 1 : cost;
    return {
      provider,
      category,
      allocation,
      flags: config.flags,
      cooldownUntilMs,
      meterBlockedUntilMs: this.meters.blockedUntil(providerId, needed, this.now()),
    };
  }
}
