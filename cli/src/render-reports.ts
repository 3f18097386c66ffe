import type {
  ForceFlushResult,
  QuotaStatsResult,
  RecentWarningsResult,
  ValidateDataResult,
  ValidationReportResult,
} from '../../functions/src/core/operations/index.ts';
import { duration, pairs, percent, table, time } from './output.ts';

/**
 * Human renderings of data and usage: validation runs and results, a flush of pending
 * aggregations, quota and upstream statistics, self-quota warnings; `--json` prints the answer
 * itself.
 */

export function renderValidationReport(r: ValidationReportResult): string {
  if (!r.latest) return 'no completed validation run yet';
  const rate = (v: number | null) => (v === null ? '-' : percent(v * 100));
  const header = pairs([
    ['latest run', r.latest.runId],
    ['completed', time(r.latest.completedAt)],
    ['pass rate', rate(r.latest.passRate)],
  ]);
  const markets = table(
    ['marketplace', 'products', 'passed', 'failed', 'pass rate'],
    Object.entries(r.latest.marketplaces).map(([m, v]) => [
      m,
      v.products,
      v.passed,
      v.failed,
      rate(v.passRate),
    ]),
  );
  const history = table(
    ['run', 'completed', 'products', 'failed', 'pass rate'],
    r.history.map((h) => [h.runId, time(h.completedAt), h.products, h.failed, rate(h.passRate)]),
  );
  const findings =
    r.findings.length === 0
      ? 'no failing products'
      : table(
          ['product', 'rules', 'fix'],
          r.findings.map((f) => [f.product, f.rules.join(', '), f.fix?.result ?? '-']),
        ) + (r.findingsTruncated ? '\n(more failing products than listed: --findings N)' : '');
  return `${header}\n${markets}\n${history}\n${findings}`;
}

export function renderValidation(r: ValidateDataResult): string {
  const header = pairs([
    ['run', r.runId],
    ['products', r.products],
    ['passed', r.passed],
    ['failed', r.failed],
    ['pass rate', r.passRate === null ? '-' : percent(r.passRate * 100)],
    [
      'fixes',
      Object.entries(r.fixes)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || '-',
    ],
    ['audit entries', r.auditIds.length],
  ]);
  const markets = Object.entries(r.marketplaces);
  if (markets.length === 0) return header;
  return `${header}\n${table(
    ['marketplace', 'products', 'passed', 'failed', 'pass rate'],
    markets.map(([m, v]) => [
      m,
      v.products,
      v.passed,
      v.failed,
      v.passRate === null ? '-' : percent(v.passRate * 100),
    ]),
  )}`;
}

export function renderFlush(r: ForceFlushResult): string {
  const rows = Object.entries(r.results);
  const summary = pairs([
    ['written', r.written],
    ['audit entries', r.auditIds.length],
  ]);
  if (rows.length === 0) return `${summary}\nno pending aggregations`;
  return `${summary}\n${table(
    ['work item', 'outcome', 'responses', 'reason'],
    rows.map(([id, v]) => [id, v.outcome, v.responseCount, v.reason]),
  )}`;
}

export function renderStats(r: QuotaStatsResult): string {
  const head = `${time(r.fromMs)} .. ${time(r.toMs)}${r.truncated ? ' (truncated)' : ''}`;
  const usage =
    r.totals.length === 0
      ? 'no usage'
      : table(
          ['provider', 'category', 'granted', 'deferred', 'calls', '429'],
          r.totals.map((t) => [t.provider, t.category, t.granted, t.deferred, t.calls, t.quota429]),
        );
  return [head, usage, renderUpstream(r.upstream)].join('\n');
}

/** Every instance's upstream calls over the range (fleet statistics), and the queues' depths. */
function renderUpstream(u: QuotaStatsResult['upstream'] | undefined): string {
  if (!u) return '';
  const ms = (v: number | null) => (v === null ? '-' : `${Math.round(v)} ms`);
  const rate = (v: number | null) => percent(v === null ? null : v * 100);
  const calls =
    u.totals.length === 0
      ? 'no upstream calls recorded'
      : table(
          ['provider', 'operation', 'calls', 'errors', 'quota errors', 'p50', 'p95'],
          u.totals.map((t) => [
            t.provider,
            t.operation,
            t.calls,
            rate(t.errorRate),
            rate(t.quotaErrorRate),
            ms(t.p50Ms),
            ms(t.p95Ms),
          ]),
        );
  // The newest step of each queue.
  const latest = new Map<string, (typeof u.queues)[number]>();
  for (const q of u.queues) {
    const seen = latest.get(q.queue);
    if (!seen || q.startMs >= seen.startMs) latest.set(q.queue, q);
  }
  const queues =
    latest.size === 0
      ? ''
      : `\n${table(
          ['queue', 'source', 'depth', 'oldest'],
          [...latest.values()].map((q) => [
            q.queue,
            q.source ?? '-',
            Math.round(q.depth),
            duration(q.oldestAgeSeconds === null ? null : q.oldestAgeSeconds * 1000),
          ]),
        )}`;
  const note = u.truncated ? ' (truncated: the oldest left out)' : '';
  return `upstream, every instance (${u.source}s${note})\n${calls}${queues}`;
}

export function renderWarnings(r: RecentWarningsResult): string {
  if (r.warnings.length === 0) return 'no warnings';
  return table(
    ['at', 'op', 'window', 'usage', 'limit', 'percent'],
    r.warnings.map((w) => [time(w.atMs), w.op, w.window, w.usage, w.limit, percent(w.percent)]),
  );
}
