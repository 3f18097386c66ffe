import { taskId } from '../queues/task-envelope';
import {
  defaultValidationConfig,
  type RuleId,
  ruleIds,
  rulesFor,
  type ValidationConfig,
} from './config';
import { type Defect, type ProductRecord, rules } from './rules';

/** What one rule found in one product. */
export interface Finding {
  marketplace: string;
  productKey: string;
  rule: RuleId;
  /** Every defect the rule found. */
  count: number;
  /** The first `maxExamples` of them. */
  examples: Defect[];
}

/** A re-collection of a failing product; its id is the same for the same run and product. */
export interface FixWorkItem {
  id: string;
  kind: 'recollect';
  runId: string;
  marketplace: string;
  productKey: string;
  /** The identifiers the product has, so the collector knows what to fetch. */
  identifiers: Record<string, string>;
  rules: RuleId[];
}

export interface MarketplaceSummary {
  marketplace: string;
  products: number;
  passed: number;
  failed: number;
  /** passed / products; null when there was nothing to check. */
  passRate: number | null;
  /** Failing products per rule. */
  failedByRule: Record<RuleId, number>;
}

export interface ValidationReport {
  runId: string;
  products: number;
  passed: number;
  passRate: number | null;
  /** Sorted by marketplace. */
  marketplaces: MarketplaceSummary[];
  findings: Finding[];
  fixes: FixWorkItem[];
}

/** Findings for one product, in rule order; none means it passes. */
export function validateProduct(
  product: ProductRecord,
  config: ValidationConfig = defaultValidationConfig,
): Finding[] {
  const thresholds = rulesFor(config, product.marketplace);
  const findings: Finding[] = [];
  for (const rule of ruleIds) {
    if (thresholds.disabledRules.includes(rule)) continue;
    const defects = rules[rule](product, thresholds);
    if (defects.length === 0) continue;
    findings.push({
      marketplace: product.marketplace,
      productKey: product.key,
      rule,
      count: defects.length,
      examples: defects.slice(0, thresholds.maxExamples),
    });
  }
  return findings;
}

/**
 * Validates one run's products: findings, pass rates per marketplace and one fix per failing
 * product. `runId` names the run (its schedule slot, say), so a retried run yields the same
 * fix ids and the task queue drops the duplicates, while the next run schedules its own.
 * A product listed twice (same marketplace and key) is checked once.
 */
export function validateRun(
  runId: string,
  products: readonly ProductRecord[],
  config: ValidationConfig = defaultValidationConfig,
): ValidationReport {
  const summaries = new Map<string, MarketplaceSummary>();
  const findings: Finding[] = [];
  const fixes: FixWorkItem[] = [];
  const seen = new Set<string>();
  for (const product of products) {
    const identity = `${product.marketplace}\u0000${product.key}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    let summary = summaries.get(product.marketplace);
    if (!summary) {
      summary = emptySummary(product.marketplace);
      summaries.set(product.marketplace, summary);
    }
    const found = validateProduct(product, config);
    summary.products++;
    if (found.length === 0) {
      summary.passed++;
      continue;
    }
    summary.failed++;
    for (const finding of found) summary.failedByRule[finding.rule]++;
    findings.push(...found);
    fixes.push(
      fixWorkItem(
        runId,
        product,
        found.map((f) => f.rule),
      ),
    );
  }
  const marketplaces = [...summaries.values()]
    .map((s) => ({ ...s, passRate: rate(s.passed, s.products) }))
    .sort((a, b) => (a.marketplace < b.marketplace ? -1 : a.marketplace > b.marketplace ? 1 : 0));
  const total = marketplaces.reduce((n, s) => n + s.products, 0);
  const passed = marketplaces.reduce((n, s) => n + s.passed, 0);
  return {
    runId,
    products: total,
    passed,
    passRate: rate(passed, total),
    marketplaces,
    findings,
    fixes,
  };
}

function emptySummary(marketplace: string): MarketplaceSummary {
  const failedByRule = Object.fromEntries(ruleIds.map((rule) => [rule, 0])) as Record<
    RuleId,
    number
  >;
  return { marketplace, products: 0, passed: 0, failed: 0, passRate: null, failedByRule };
}

function rate(passed: number, total: number): number | null {
  return total === 0 ? null : passed / total;
}

export function fixWorkItem(runId: string, product: ProductRecord, failed: RuleId[]): FixWorkItem {
  const identifiers: Record<string, string> = {};
  for (const [name, value] of Object.entries(product.identifiers)) {
    if (value != null && value.trim() !== '') identifiers[name] = value;
  }
  return {
    id: fixId(runId, product.marketplace, product.key),
    kind: 'recollect',
    runId,
    marketplace: product.marketplace,
    productKey: product.key,
    identifiers,
    rules: failed,
  };
}

/**
 * A task id readable enough to find in logs, and unique: the readable parts are sanitised and
 * cut, so a hash of the exact run, marketplace and key keeps apart what they would merge.
 */
export function fixId(runId: string, marketplace: string, productKey: string): string {
  const hash = fnv1a64([runId, marketplace, productKey].join('\u0000'));
  return taskId('fix', marketplace.slice(0, 40), productKey.slice(0, 80), hash);
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/** 64-bit FNV-1a of the UTF-8 bytes, as 16 hex digits. */
function fnv1a64(text: string): string {
  let hash = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK_64;
  }
  return hash.toString(16).padStart(16, '0');
}
