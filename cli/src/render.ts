import type { ImportResult } from '../../functions/src/adapters/backup/backup.ts';
import type {
  Audited,
  ClearCooldownResult,
  CollectionStatusResult,
  ForceFlushResult,
  ListAuditLogResult,
  ListCollectionsResult,
  PurgeProviderQueuesResult,
  QuotaStatsResult,
  RecentWarningsResult,
  RestartCollectionResult,
  SetFlagsResult,
  SetMaintenanceModeResult,
  SetProviderLimitsResult,
  SetUserRoleResult,
  StartCollectionResult,
  StartCooldownResult,
  StatusResult,
  ValidateDataResult,
  ValidationReportResult,
} from '../../functions/src/core/operations/index.ts';
import type { ShareChange } from '../../functions/src/core/pipeline/share-transition.ts';
import { cell, duration, pairs, percent, table, time } from './output.ts';

/** Human renderings of what the operations answer; `--json` prints the answer itself. */

function limitText(limit: Record<string, unknown>): string {
  switch (limit.kind) {
    case 'tokenBucket':
      return `bucket ${limit.capacity} +${limit.refillPerSecond}/s`;
    case 'window':
      return `${limit.limit} ${limit.measure}/${limit.unit}`;
    case 'operation':
      return `${limit.operation} ${limit.ratePerSecond}/s burst ${limit.burst}`;
    case 'concurrency':
      return `${limit.max} concurrent`;
    default:
      return JSON.stringify(limit);
  }
}

export function renderStatus(s: StatusResult): string {
  const header = pairs([
    ['project', s.projectId],
    ['version', s.version],
    ['at', time(s.nowMs)],
    ['maintenance', s.maintenance ? 'ON (no grants)' : 'off'],
    [
      'heartbeat',
      s.heartbeat.lastBeatMs === null
        ? 'no beat yet'
        : `${time(s.heartbeat.lastBeatMs)} (${duration(s.nowMs - s.heartbeat.lastBeatMs)} ago)`,
    ],
    [
      'flags',
      Object.entries(s.flags)
        .map(([k, v]) => `${k}=${cell(v)}`)
        .join(' '),
    ],
  ]);
  const providers = table(
    ['provider', 'name', 'limits', 'cooldown'],
    s.providers.map((p) => [
      p.id,
      p.displayName,
      p.limits.map((l) => limitText(l as unknown as Record<string, unknown>)).join('\n'),
      p.cooldown ? `${duration(p.cooldown.remainingMs)} left` : '-',
    ]),
  );
  const window = s.categories[0]?.usage.windowMinutes;
  const categories = table(
    [
      'category',
      'provider',
      'share',
      'effective',
      'published',
      'override',
      'priority',
      'paused',
      `granted/deferred/429 (${window ?? '-'}m)`,
    ],
    s.categories.map((c) => [
      c.id,
      c.provider,
      percent(c.configuredSharePercent),
      percent(c.effectiveSharePercent),
      `${percent(c.publishedSharePercent)}${c.pendingShares
        .map((p) => `\n${percent(p.percent)} from ${time(p.effectiveAtMs)}`)
        .join('')}`,
      percent(c.overridePercent),
      c.priority,
      c.paused,
      `${c.usage.granted}/${c.usage.deferred}/${c.usage.quota429}`,
    ]),
  );
  const parts = [header, providers, categories];
  const fs = s.firestore;
  if (fs) {
    // The answering instance's own counts (each instance counts its own operations).
    parts.push(
      table(
        [
          `firestore self-quota (${fs.limitsSource} limits)`,
          'per second',
          'per minute',
          `x${fs.multiplier} buffer, x${fs.pipelineMultiplier} pipeline${fs.throttling ? ': THROTTLING' : ''}`,
        ],
        (['read', 'write', 'delete'] as const).map((op) => [
          op,
          `${fs.usage[op].second.usage}/${fs.usage[op].second.limit} (${fs.usage[op].second.percent}%)`,
          `${fs.usage[op].minute.usage}/${fs.usage[op].minute.limit} (${fs.usage[op].minute.percent}%)`,
          op === 'read' ? `${fs.recentWarnings} warnings in the last hour` : '',
        ]),
      ),
    );
  }
  if (s.cooldowns.length > 0) {
    parts.push(
      table(
        ['cooling down', 'until', 'left', 'last operation', 'hits'],
        s.cooldowns.map((c) => [
          c.provider,
          time(c.untilMs),
          duration(c.remainingMs),
          c.lastOperation,
          c.hits,
        ]),
      ),
    );
  }
  return parts.join('\n');
}

export function renderCollection(c: CollectionStatusResult): string {
  const header = pairs([
    ['collection', c.id],
    ['provider / category', `${c.provider} / ${c.category}`],
    ['status', c.status],
    ['phase', `${c.phase} (${percent(c.phaseSharePercent)} share)`],
    ['effective share', percent(c.effectiveSharePercent)],
    ['in phase', duration(c.timeInPhaseMs)],
    ['idle', duration(c.idleMs)],
    ...deadlineRows(c.deadline),
  ]);
  const lines = [...c.marketplaces, { ...c.overall, marketplace: 'overall' }];
  const progress = table(
    ['marketplace', 'collected', 'target', 'done', 'per hour', 'eta'],
    lines.map((m) => [
      m.marketplace,
      m.collected,
      m.target,
      percent(m.percent),
      m.ratePerHour,
      m.etaAt === null ? '-' : time(m.etaAt),
    ]),
  );
  const phases = table(
    ['phase', 'from', 'share', 'began', 'ended', 'lasted'],
    c.phaseTimeline.map((p) => [
      p.phase,
      p.fromPercent === null ? '-' : percent(p.fromPercent),
      percent(p.sharePercent),
      time(p.startedAt),
      p.endedAt === null ? '(current)' : time(p.endedAt),
      duration(p.durationMs),
    ]),
  );
  return `${header}\n${progress}\n${phases}`;
}

export function renderCollections(r: ListCollectionsResult): string {
  const rows = table(
    ['collection', 'provider / category', 'status', 'phase', 'done', 'per hour', 'eta', 'deadline'],
    r.collections.map((c) => [
      c.id,
      `${c.provider} / ${c.category}`,
      c.status,
      c.phase,
      `${c.overall.collected}/${c.overall.target} (${percent(c.overall.percent)})`,
      c.overall.ratePerHour,
      c.overall.etaAt === null ? '-' : time(c.overall.etaAt),
      c.deadline ? `${time(c.deadline.atMs)}${c.deadline.onTrack === false ? ' (late)' : ''}` : '-',
    ]),
  );
  const notes = [
    r.truncated ? 'more collections than listed (raise --limit, or filter by --status)' : '',
    r.unreadable.length > 0 ? `unreadable documents: ${r.unreadable.join(', ')}` : '',
  ].filter(Boolean);
  return [r.collections.length === 0 ? 'no collections' : rows, ...notes].join('\n');
}

function brief(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function renderAuditLog(r: ListAuditLogResult): string {
  const rows = table(
    ['at', 'who', 'what', 'target', 'before', 'after'],
    r.entries.map((e) => [
      time(e.atMs),
      e.who.email ?? e.who.uid,
      e.what,
      e.target,
      brief(e.before),
      brief(e.after),
    ]),
  );
  const next = r.nextCursor ? `\nmore: --after ${r.nextCursor}` : '';
  return `${r.entries.length === 0 ? 'no entries' : rows}${next}`;
}

function deadlineRows(d: CollectionStatusResult['deadline']): Array<[string, unknown]> {
  if (!d) return [];
  const standing =
    d.onTrack === null
      ? 'unknown (no rate yet)'
      : d.onTrack
        ? `on track (${duration(d.slackMs ?? 0)} ahead)`
        : `late (${duration(-(d.slackMs ?? 0))} behind)`;
  return [
    ['deadline', time(d.atMs)],
    ['standing', standing],
    ['needs per hour', d.requiredRatePerHour ?? '-'],
    ['raise share', d.raiseShare ? `up to ${percent(d.raiseShare.maxSharePercent)}` : 'off'],
  ];
}

function shareChanges(changes: readonly ShareChange[]): string {
  if (changes.length === 0) return '';
  return `\n${table(
    ['category', 'share before', 'share after'],
    changes.map((c) => [c.category, percent(c.fromPercent), percent(c.toPercent)]),
  )}`;
}

function audited(result: Audited & { changed?: boolean }): Array<[string, unknown]> {
  return [
    ...(result.changed === undefined ? [] : [['changed', result.changed] as [string, unknown]]),
    ['audit entry', result.auditId ?? '- (nothing changed)'],
  ];
}

export function renderStartCollection(r: StartCollectionResult): string {
  const c = r.collection;
  return (
    pairs([
      ['collection', c.id],
      ['created', r.created],
      ['restarted', r.restarted],
      [
        'targets',
        Object.entries(c.marketplaces)
          .map(([m, v]) => `${m}=${v.target}`)
          .join(' '),
      ],
      ['phase', c.phase],
      ['status', c.status],
      ['allocation published', r.allocationPublished],
      ...audited(r),
    ]) + shareChanges(r.shareChanges)
  );
}

export function renderRestartCollection(r: RestartCollectionResult): string {
  const c = r.collection;
  return pairs([
    ['collection', c.id],
    ['status', c.status],
    ['restarts', c.restarts],
    [
      'collected',
      Object.entries(c.marketplaces)
        .map(([m, v]) => `${m}=${v.collected}/${v.target}`)
        .join(' '),
    ],
    ['re-issued', r.reissued === null ? 'at the next batch' : JSON.stringify(r.reissued)],
    ...audited(r),
  ]);
}

/** setCategoryAllocation, pauseCategory, resumeCategory. */
export function renderCategoryChange(r: {
  category: {
    id: string;
    sharePercent: number;
    overridePercent: number | null;
    priority: number;
    paused: boolean;
  };
  changed: boolean;
  auditId: string | null;
  shareChanges: ShareChange[];
  allocationPublished: boolean;
  collections?: string[];
}): string {
  const c = r.category;
  return (
    pairs([
      ['category', c.id],
      ['share', percent(c.sharePercent)],
      ['override', percent(c.overridePercent)],
      ['priority', c.priority],
      ['paused', c.paused],
      ...(r.collections
        ? [['collections', r.collections.join(', ') || '-'] as [string, unknown]]
        : []),
      ['allocation published', r.allocationPublished],
      ...audited(r),
    ]) + shareChanges(r.shareChanges)
  );
}

export function renderClearCooldown(r: ClearCooldownResult): string {
  return pairs([
    ['provider', r.provider],
    ['cleared', r.cleared],
    ['was until', r.cooldown ? time(r.cooldown.untilMs) : '- (no cooldown)'],
    ...audited(r),
  ]);
}

export function renderStartCooldown(r: StartCooldownResult): string {
  return pairs([
    ['provider', r.provider],
    ['cooling down until', time(r.cooldown.untilMs)],
    ['started', time(r.cooldown.startedAtMs)],
    ...audited(r),
  ]);
}

export function renderSetProviderLimits(r: SetProviderLimitsResult): string {
  const p = r.provider;
  return pairs([
    ['provider', p.id],
    ['created', r.created],
    ['limits', p.limits.map((l) => JSON.stringify(l)).join('\n')],
    ['cooldown', `${p.cooldownSeconds} s (Retry-After at most ${p.maxRetryAfterSeconds} s)`],
    ['base URL', p.baseUrl ?? '-'],
    ['takes effect', r.effectiveFromMs ? time(r.effectiveFromMs) : '-'],
    ['allocation published', r.allocationPublished],
    ...audited(r),
  ]);
}

export function renderMaintenance(r: SetMaintenanceModeResult): string {
  const head = pairs([['maintenance', r.maintenance ? 'ON (no grants)' : 'off'], ...audited(r)]);
  if (r.queues.length === 0) return head;
  const queues = table(
    ['queue', 'state', 'error'],
    r.queues.map((q) => [q.queue, q.state, q.error ?? '']),
  );
  return `${head}\n${queues}`;
}

export function renderPurge(r: PurgeProviderQueuesResult): string {
  const queues = table(
    ['queue', 'dropped', 'error'],
    r.queues.map((q) => [q.queue, q.dropped, q.error ?? '']),
  );
  return `${queues}\n${pairs([['dropped', r.dropped], ...audited(r)])}`;
}

export function renderFlags(flags: Record<string, unknown>, r?: SetFlagsResult): string {
  const rows = table(
    ['flag', 'value'],
    Object.entries(flags).map(([k, v]) => [k, v]),
  );
  if (!r) return rows;
  return `${rows}\n${pairs(audited(r))}`;
}

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

export function renderRole(r: SetUserRoleResult): string {
  return pairs([
    ['uid', r.uid],
    ['role', r.role ?? '- (none)'],
    ['previous role', r.previousRole ?? '- (none)'],
    ...audited(r),
  ]);
}

export function renderExport(r: {
  out: string | null;
  documents: number;
  byCollection: Record<string, number>;
  checksum: string;
  sha256: string;
  bytes: number;
  auditId: string;
}): string {
  return `${pairs([
    ['written to', r.out ?? 'stdout'],
    ['documents', r.documents],
    ['bytes', r.bytes],
    ['checksum', r.checksum],
    ['file sha256', r.sha256],
    ['audit entry', r.auditId],
  ])}\n${table(
    ['collection', 'documents'],
    Object.entries(r.byCollection).map(([k, v]) => [k, v]),
  )}`;
}

export function renderImport(r: ImportResult & { auditIds: string[] }): string {
  return `${pairs([
    ['dry run', r.dryRun],
    ['from project', r.projectId],
    ['taken at', r.createdAt],
    ['checksum', r.checksum],
    ['documents', r.documents],
    ['written', r.written],
    ['audit entries', r.auditIds.length],
  ])}\n${table(
    ['collection', 'documents'],
    Object.entries(r.byCollection).map(([k, v]) => [k, v]),
  )}`;
}
