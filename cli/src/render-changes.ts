import type {
  Audited,
  ClearCooldownResult,
  PurgeProviderQueuesResult,
  RestartCollectionResult,
  SetFlagsResult,
  SetMaintenanceModeResult,
  SetProviderLimitsResult,
  SetUserRoleResult,
  StartCollectionResult,
  StartCooldownResult,
} from '../../functions/src/core/operations/index.ts';
import type { ShareChange } from '../../functions/src/core/pipeline/share-transition.ts';
import { pairs, percent, table, time } from './output.ts';

/**
 * Human renderings of what the changes answer (collections, categories, cooldowns, providers,
 * maintenance, queues, flags, roles), each with its audit entry; `--json` prints the answer
 * itself.
 */

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

export function renderRole(r: SetUserRoleResult): string {
  return pairs([
    ['uid', r.uid],
    ['role', r.role ?? '- (none)'],
    ['previous role', r.previousRole ?? '- (none)'],
    ...audited(r),
  ]);
}
