import { z } from 'zod';
import { idSchema } from '../ids';

/** The data-quality rules, in the order findings are reported. */
export const ruleIds = [
  'missing-identifiers',
  'too-few-prices',
  'inconsistent-prices',
  'incomplete-dates',
  'low-confidence',
] as const;
export type RuleId = (typeof ruleIds)[number];

/** Thresholds a marketplace may override; no defaults here, so an override names only what it changes. */
const ruleFields = {
  /** Identifiers every product must carry (asin, plid...); empty: at least one, whichever. */
  requiredIdentifiers: z.array(z.string().min(1)),
  /** Fewest usable points (valid date, positive price) a history must have. */
  minPricePoints: z.number().int().nonnegative(),
  /** Consecutive prices further apart than this factor (either way) are implausible. */
  maxJumpRatio: z.number().gt(1),
  /** Days without a point, between points or at the ends of the expected range. */
  maxGapDays: z.number().positive(),
  /** Extraction confidence below this fails. */
  minConfidence: z.number().min(0).max(1),
  disabledRules: z.array(z.enum(ruleIds)),
};

export const ruleOverrideSchema = z.object(ruleFields).partial();
export type RuleOverride = z.infer<typeof ruleOverrideSchema>;

export const validationConfigSchema = z.object({
  requiredIdentifiers: ruleFields.requiredIdentifiers.default([]),
  minPricePoints: ruleFields.minPricePoints.default(5),
  maxJumpRatio: ruleFields.maxJumpRatio.default(5),
  maxGapDays: ruleFields.maxGapDays.default(7),
  minConfidence: ruleFields.minConfidence.default(0.8),
  disabledRules: ruleFields.disabledRules.default([]),
  /**
   * Per-marketplace overrides of the thresholds above, keyed by marketplace id (the one id
   * schema of core/ids.ts: an empty, reserved or 2,000-character key is refused here rather than
   * by Firestore).
   */
  marketplaces: z.record(idSchema, ruleOverrideSchema).default({}),
  /** Defects kept per finding as examples (the count is always complete). */
  maxExamples: z.number().int().positive().default(5),
});
export type ValidationConfig = z.infer<typeof validationConfigSchema>;

export const defaultValidationConfig: ValidationConfig = validationConfigSchema.parse({});

/** The thresholds one marketplace is checked with. */
export type MarketplaceRules = Omit<ValidationConfig, 'marketplaces'>;

export function rulesFor(config: ValidationConfig, marketplace: string): MarketplaceRules {
  const { marketplaces, ...base } = config;
  const override = Object.hasOwn(marketplaces, marketplace) ? marketplaces[marketplace] : undefined;
  if (!override) return base;
  const defined = Object.entries(override).filter(([, value]) => value !== undefined);
  return { ...base, ...Object.fromEntries(defined) };
}
