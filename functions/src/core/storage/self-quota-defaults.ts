import { FIRESTORE_OPS, type SelfQuotaConfig, type SelfQuotaOptions } from './self-quota-types';

/** The self-quota's default settings, and settings resolved from options over them (checked). */

export const DEFAULT_SELF_QUOTA: SelfQuotaConfig = {
  limits: {
    read: { perSecond: 10_000, perMinute: 300_000 },
    write: { perSecond: 500, perMinute: 20_000 },
    delete: { perSecond: 500, perMinute: 20_000 },
  },
  warnRatio: 0.9,
  softRatio: 0.8,
  maxMultiplier: 10,
  growthFactor: 2,
  backgroundShare: 1,
  warningCooldownMs: 60_000,
  keepWarnings: 50,
};

export function resolveSelfQuotaConfig(options: SelfQuotaOptions = {}): SelfQuotaConfig {
  const { limits, ...rest } = options;
  const config: SelfQuotaConfig = {
    ...DEFAULT_SELF_QUOTA,
    ...rest,
    limits: {
      read: { ...DEFAULT_SELF_QUOTA.limits.read, ...limits?.read },
      write: { ...DEFAULT_SELF_QUOTA.limits.write, ...limits?.write },
      delete: { ...DEFAULT_SELF_QUOTA.limits.delete, ...limits?.delete },
    },
  };
  for (const op of FIRESTORE_OPS) {
    const { perSecond, perMinute } = config.limits[op];
    if (!(perSecond > 0 && perMinute > 0)) {
      throw new RangeError(`self-quota limits for ${op} must be positive`);
    }
  }
  if (!(config.softRatio > 0 && config.softRatio <= 1 && config.warnRatio > 0)) {
    throw new RangeError('self-quota ratios must be within (0, 1]');
  }
  if (!(config.growthFactor > 1 && config.maxMultiplier >= 1)) {
    throw new RangeError('self-quota growth must exceed 1 and the multiplier cap be at least 1');
  }
  if (!(config.backgroundShare > 0 && config.backgroundShare <= 1)) {
    throw new RangeError('self-quota background share must be within (0, 1]');
  }
  return config;
}
