import type {
  CollectionStatusResult,
  ListAuditLogResult,
  ListCollectionsResult,
  StatusResult,
} from '../../functions/src/core/operations/index.ts';
import { cell, duration, pairs, percent, table, time } from './output.ts';

/**
 * Human renderings of the reads of state: status, one collection, every collection, the audit
 * log; `--json` prints the answer itself.
 */

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
