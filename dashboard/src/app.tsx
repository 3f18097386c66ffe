import type {
  AuditLogEntry,
  CallableName,
  CategoryStatus,
  CollectionStatusResult,
  ListCollectionsResult,
  ProviderStatus,
  Role,
  StatusResult,
  TollgateClient,
} from '@tollgate/client';
import { hasRole } from '@tollgate/client';
import { signOut, type User } from 'firebase/auth';
import { Component, type ComponentChildren } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import type { Backend } from './firebase.ts';
import {
  boundPerSecond,
  describeLimit,
  fmtDuration,
  fmtNumber,
  fmtPercent,
  fmtTime,
  forecastWindow,
  maxShareFor,
  parseShare,
  type Refusal,
  refusalOf,
} from './format.ts';
import { type Polled, useNow, usePoll, useRoute } from './hooks.ts';
import { TableWrap } from './table-wrap.tsx';

const Usage = lazy(() => import('./usage.tsx'));
const Health = lazy(() => import('./health.tsx'));

/** A change made from this page, with the audit entry the callable wrote. */
export interface AuditLine {
  atMs: number;
  what: CallableName;
  target: string;
  auditId: string | null;
  before: string;
  after: string;
}

export interface Ctx {
  client: TollgateClient;
  role: Role | null;
  canOperate: boolean;
  status: Polled<StatusResult>;
  /** Runs a change: confirmation where it stops work, refusal shown, audit line kept. */
  act: <T extends { auditId?: string | null }>(
    key: string,
    run: () => Promise<T>,
    options: {
      confirm?: string;
      what: CallableName;
      target: string;
      before?: string;
      after?: (result: T) => string;
    },
  ) => Promise<T | null>;
  outcome: Record<string, { ok: string } | { refused: Refusal }>;
  audit: AuditLine[];
}

const STATUS_EVERY_MS = 3_000;
const COLLECTIONS_EVERY_MS = 4_000;
const AUDIT_EVERY_MS = 10_000;

export function Shell({
  backend,
  user,
  role,
}: {
  backend: Backend;
  user: User;
  role: Role | null;
}) {
  const { client } = backend;
  const route = useRoute();
  const status = usePoll(role ? () => client.getStatus({}) : null, STATUS_EVERY_MS, [role]);
  const [outcome, setOutcome] = useState<Ctx['outcome']>({});
  const [audit, setAudit] = useState<AuditLine[]>([]);

  const act: Ctx['act'] = async (key, run, options) => {
    if (options.confirm && !window.confirm(options.confirm)) return null;
    setOutcome((o) => ({ ...o, [key]: { ok: 'working…' } }));
    try {
      const result = await run();
      const line: AuditLine = {
        atMs: Date.now(),
        what: options.what,
        target: options.target,
        auditId: result.auditId ?? null,
        before: options.before ?? '',
        after: options.after ? options.after(result) : '',
      };
      setAudit((a) => [line, ...a].slice(0, 50));
      setOutcome((o) => ({
        ...o,
        [key]: { ok: `done${line.auditId ? ` (audit entry ${line.auditId})` : ' (no change)'}` },
      }));
      status.refresh();
      return result;
    } catch (error) {
      setOutcome((o) => ({ ...o, [key]: { refused: refusalOf(error) } }));
      return null;
    }
  };

  const ctx: Ctx = {
    client,
    role,
    canOperate: hasRole(role, 'operator'),
    status,
    act,
    outcome,
    audit,
  };
  const view = route[0] ?? '';
  const nav: Array<[string, string]> = [
    ['', 'Overview'],
    ['providers', 'Providers'],
    ['allocation', 'Allocation'],
    ['collections', 'Collections'],
    ['usage', 'Usage'],
    ['health', 'Health'],
    ['audit', 'Audit'],
  ];
  return (
    <div class="shell">
      <header>
        <h1>
          <a class="brand" href="#/">
            Tollgate
          </a>
        </h1>
        <span class="muted">{backend.projectId}</span>
        {status.data?.maintenance && <span class="badge warn">maintenance</span>}
        <span class="spacer" />
        <span class="who">
          {user.email ?? user.uid} · <strong data-testid="role">{role ?? 'no role'}</strong>
        </span>
        <button type="button" class="link" onClick={() => void signOut(backend.auth)}>
          Sign out
        </button>
      </header>
      <nav aria-label="Views">
        {nav.map(([path, label]) => (
          <a key={path} href={`#/${path}`} aria-current={view === path ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <main>
        {!role ? (
          <p class="error" role="alert">
            This account has no Tollgate role (viewer, operator or admin): ask an admin to grant one
            (setUserRole).
          </p>
        ) : (
          <>
            <Freshness status={status} />
            <ViewBoundary key={route.join('/')} view={view}>
              <View view={view} route={route} ctx={ctx} />
            </ViewBoundary>
          </>
        )}
      </main>
    </div>
  );
}

function Freshness({ status }: { status: Polled<StatusResult> }) {
  const now = useNow();
  if (status.error && !status.data) return <Refused refusal={refusalOf(status.error)} />;
  return (
    <p class="muted small" aria-live="off">
      {status.at ? `updated ${fmtDuration(now - status.at)} ago` : 'loading…'}
      {status.error ? ` · last refresh failed: ${refusalOf(status.error).message}` : ''}
      {status.data ? ` · version ${status.data.version}` : ''}
    </p>
  );
}

/**
 * One view's error boundary: a value the view cannot show (a render that throws) replaces that
 * view with a message, never the whole page; keyed by the route, so moving on starts afresh.
 */
export class ViewBoundary extends Component<
  { view: string; children: ComponentChildren },
  { message: string | null }
> {
  override state = { message: null as string | null };

  static override getDerivedStateFromError(error: unknown) {
    return { message: error instanceof Error ? error.message : String(error) };
  }

  override componentDidCatch(error: unknown) {
    console.error(`dashboard view "${this.props.view || 'overview'}" failed`, error);
  }

  override render() {
    if (this.state.message === null) return this.props.children;
    return (
      <div class="error" role="alert" data-testid="view-error">
        <p>This view could not be shown: {this.state.message}</p>
        <button type="button" onClick={() => this.setState({ message: null })}>
          Try again
        </button>
      </div>
    );
  }
}

function View({ view, route, ctx }: { view: string; route: string[]; ctx: Ctx }) {
  switch (view) {
    case 'providers':
      return <Providers ctx={ctx} />;
    case 'allocation':
      return <Allocation ctx={ctx} />;
    case 'collections':
      return route[1] ? (
        <CollectionPage key={route[1]} ctx={ctx} id={route[1]} />
      ) : (
        <Collections ctx={ctx} full />
      );
    case 'usage':
      return (
        <Suspense fallback={<p>Loading charts…</p>}>
          <Usage client={ctx.client} status={ctx.status.data} />
        </Suspense>
      );
    case 'health':
      return (
        <Suspense fallback={<p>Loading…</p>}>
          <Health client={ctx.client} status={ctx.status.data} />
        </Suspense>
      );
    case 'audit':
      return <Audit ctx={ctx} />;
    default:
      return <Overview ctx={ctx} />;
  }
}

function Overview({ ctx }: { ctx: Ctx }) {
  const ready = ctx.status.data !== null;
  useEffect(() => {
    if (ready && window.__tollgateFirstRenderMs === undefined) {
      window.__tollgateFirstRenderMs = performance.now();
    }
  }, [ready]);
  return (
    <div class="overview" data-ready={ready ? 'true' : 'false'}>
      <Providers ctx={ctx} />
      <Allocation ctx={ctx} />
      <Collections ctx={ctx} />
    </div>
  );
}

export function Refused({ refusal }: { refusal: Refusal }) {
  return (
    <div class="error" role="alert">
      <strong>Refused ({refusal.code}):</strong> {refusal.message}
      {refusal.issues.length > 0 && (
        <ul class="issues">
          {refusal.issues.map((i) => (
            <li key={i.path} data-field={i.path}>
              <code>{i.path || '(payload)'}</code>: {i.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Outcome({ ctx, id }: { ctx: Ctx; id: string }) {
  const o = ctx.outcome[id];
  if (!o) return null;
  if ('refused' in o) return <Refused refusal={o.refused} />;
  return (
    <p class="ok small" role="status">
      {o.ok}
    </p>
  );
}

function Section({
  title,
  children,
  id,
}: {
  title: string;
  children: ComponentChildren;
  id: string;
}) {
  return (
    <section aria-labelledby={`h-${id}`} class="card">
      <h2 id={`h-${id}`}>{title}</h2>
      {children}
    </section>
  );
}

function Gauge({
  label,
  value,
  max,
  detail,
}: {
  label: string;
  value: number;
  max: number;
  detail?: string;
}) {
  const pct = max > 0 ? Math.min(100, (value / max) * 100) : 0;
  const level = pct >= 90 ? 'hot' : pct >= 70 ? 'warm' : 'cool';
  return (
    <div class="gauge">
      <div class="gauge-label">
        <span>{label}</span>
        <span>{fmtPercent(pct)}</span>
      </div>
      {/* biome-ignore lint/a11y/useSemanticElements: a styled bar; <meter> cannot be styled alike across browsers */}
      <div
        class={`bar ${level}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct)}
      >
        <span style={{ width: `${pct}%` }} />
      </div>
      {detail && <div class="muted small">{detail}</div>}
    </div>
  );
}

/** Per provider: each limit as use against its bound, the cooldown, the forecast. */
function Providers({ ctx }: { ctx: Ctx }) {
  const now = useNow();
  // Per operation: the upstream calls of the last 5 minutes (getQuotaStats' fleet statistics).
  const calls = usePoll(() => ctx.client.getQuotaStats({ minutes: 5 }), 15_000, []);
  const data = ctx.status.data;
  if (!data) return null;
  const opRate = (provider: string, operation: string): number | null => {
    if (!calls.data) return null;
    const total = calls.data.upstream.totals.find(
      (t) => t.provider === provider && t.operation === operation,
    );
    return (total?.calls ?? 0) / (5 * 60);
  };
  return (
    <Section title="Providers" id="providers">
      <Heartbeat status={data} now={now} />
      <div class="grid">
        {data.providers
          .filter((p) => p.id !== 'firestore')
          .map((p) => {
            const cats = data.categories.filter((c) => c.provider === p.id);
            const windowMinutes = cats[0]?.usage.windowMinutes ?? 5;
            const granted = cats.reduce((s, c) => s + c.usage.granted, 0);
            const deferred = cats.reduce((s, c) => s + c.usage.deferred, 0);
            const quota429 = cats.reduce((s, c) => s + c.usage.quota429, 0);
            const rate = granted / (windowMinutes * 60);
            const cooldown = p.cooldown;
            const remaining = cooldown ? Math.max(0, cooldown.untilMs - now) : 0;
            return (
              <article class="provider" key={p.id} data-provider={p.id}>
                <h3>
                  {p.displayName} <span class="muted small">({p.id})</span>
                </h3>
                {/* Announced on start and end only: the ticking countdown is not in it. */}
                <p class="sr-only" role="status" data-testid={`cooldown-live-${p.id}`}>
                  {cooldown && remaining > 0
                    ? `${p.displayName} cooling down until ${fmtTime(cooldown.untilMs)}`
                    : `${p.displayName}: no cooldown`}
                </p>
                {cooldown && remaining > 0 ? (
                  <div class="cooldown" data-testid={`cooldown-${p.id}`}>
                    Cooling down: <strong class="countdown">{fmtDuration(remaining)}</strong> left
                    (until {fmtTime(cooldown.untilMs)}), caused by{' '}
                    <code>{cooldown.lastOperation}</code>, {cooldown.hits} hit
                    {cooldown.hits === 1 ? '' : 's'}
                  </div>
                ) : (
                  <p class="muted small" data-testid={`no-cooldown-${p.id}`}>
                    No cooldown (a quota error cools it down for{' '}
                    {fmtDuration(p.cooldownSeconds * 1000)})
                  </p>
                )}
                {p.meter && <MeterLine meter={p.meter} now={now} />}
                {p.limits.map((limit, index) => {
                  const window = p.windows.find((w) => w.limitIndex === index);
                  // What the limit's use is measured by: grants per second for the bucket and
                  // request/cost windows, the operation's own calls for an operation limit;
                  // bytes and concurrency in use are not served.
                  const use =
                    limit.kind === 'operation'
                      ? opRate(p.id, limit.operation)
                      : limit.kind === 'window' && limit.measure === 'bytes'
                        ? null
                        : rate;
                  const bound = use === null ? null : boundPerSecond(limit);
                  const forecast = forecastWindow(limit, use ?? 0, now);
                  return (
                    <div key={describeLimit(limit)}>
                      {bound !== null && use !== null ? (
                        <Gauge
                          label={describeLimit(limit)}
                          value={use}
                          max={bound}
                          detail={`${fmtNumber(use, 3)}/s ${limit.kind === 'operation' ? 'calls' : 'granted'} over the last ${limit.kind === 'operation' ? 5 : windowMinutes} min${
                            limit.kind === 'window'
                              ? ` · window resets ${fmtTime(forecast?.resetsAt)}`
                              : ''
                          }`}
                        />
                      ) : (
                        <p class="small">
                          {describeLimit(limit)}
                          {limit.kind === 'window' && limit.measure === 'bytes' && (
                            <span class="muted">
                              {' '}
                              (bytes used are not served; resets {fmtTime(forecast?.resetsAt)})
                            </span>
                          )}
                        </p>
                      )}
                      {window && <WindowUse window={window} />}
                      {forecast && use !== null && (
                        <p class="small" data-testid="forecast">
                          Forecast:{' '}
                          {forecast.runsOutAt === null
                            ? 'no spend, does not run out'
                            : forecast.runsOutFirst
                              ? `runs out at ${fmtTime(forecast.runsOutAt)}, before it resets`
                              : `lasts until it resets (${fmtTime(forecast.resetsAt)})`}
                        </p>
                      )}
                    </div>
                  );
                })}
                <p class="small">
                  Last {windowMinutes} min: {fmtNumber(granted)} granted, {fmtNumber(deferred)}{' '}
                  deferred, {fmtNumber(quota429)} × 429
                </p>
                {ctx.canOperate && (
                  <CooldownControls ctx={ctx} provider={p.id} active={remaining > 0} />
                )}
              </article>
            );
          })}
      </div>
      <p class="muted small">
        Gauges compare the recent grant rate with each bound; a window's use so far is summed from
        the per-minute usage statistics (minute and hour windows; calls granted, which is the use of
        a requests window). The token bucket's live balance is not served. The upstream meter is the
        reading an instance last shared, refilled to now (spending since then is not in it).
      </p>
    </Section>
  );
}

/** The scheduler's last beat (every 5 minutes): late when over 10 minutes ago. */
function Heartbeat({ status, now }: { status: StatusResult; now: number }) {
  const last = status.heartbeat.lastBeatMs;
  const age = last === null ? null : now - last;
  const late = age === null || age > 10 * 60_000;
  return (
    <p class={late ? 'error small' : 'small'} data-testid="heartbeat">
      Heartbeat:{' '}
      {last === null
        ? 'no beat recorded yet (the scheduler has not run)'
        : `last beat ${fmtTime(last)} (${fmtDuration(age)} ago${late ? ', late' : ''}), ${fmtNumber(status.heartbeat.beats)} beats`}
    </p>
  );
}

function MeterLine({ meter, now }: { meter: NonNullable<ProviderStatus['meter']>; now: number }) {
  const projected = Math.min(
    meter.capacity,
    meter.balance + (Math.max(0, now - meter.readingAtMs) / 1000) * meter.ratePerSecond,
  );
  return (
    <div data-testid="meter">
      <Gauge
        label="upstream meter (projected balance)"
        value={Math.max(0, projected)}
        max={meter.capacity}
        detail={`${fmtNumber(projected)} of ${fmtNumber(meter.capacity)} projected (+${fmtNumber(meter.ratePerSecond, 2)}/s) from ${fmtNumber(meter.balance)} reported at ${fmtTime(meter.readingAtMs)}${
          projected < 0 ? ` · in deficit until ${fmtTime(meter.deficitEndsAtMs)}` : ''
        }`}
      />
    </div>
  );
}

const UNKNOWN_WINDOW: Record<string, string> = {
  'finer-than-a-minute': 'not summed: the statistics are per minute',
  'too-long': 'not summed: longer than a status answer reads',
  truncated: 'not summed: more statistics than one answer reads',
};

function WindowUse({ window }: { window: ProviderStatus['windows'][number] }) {
  if (window.used !== null) {
    return (
      <Gauge
        label={`${window.measure} this ${window.unit}`}
        value={window.used}
        max={window.limit}
        detail={`${fmtNumber(window.used)} of ${fmtNumber(window.limit)} used since ${fmtTime(window.windowStartMs)} · resets ${fmtTime(window.windowEndMs)}`}
      />
    );
  }
  return (
    <p class="muted small" data-testid="window-use">
      This {window.unit}:{' '}
      {window.grantedCalls !== null
        ? `${fmtNumber(window.grantedCalls)} calls granted (their ${window.measure} is not recorded)`
        : (UNKNOWN_WINDOW[window.unknownBecause ?? ''] ?? 'not known')}
      {' · '}resets {fmtTime(window.windowEndMs)}
    </p>
  );
}

function CooldownControls({
  ctx,
  provider,
  active,
}: {
  ctx: Ctx;
  provider: string;
  active: boolean;
}) {
  const [seconds, setSeconds] = useState('300');
  const [reason, setReason] = useState('');
  const key = `cooldown-${provider}`;
  return (
    <div class="controls">
      {active && (
        <button
          type="button"
          onClick={() =>
            void ctx.act(key, () => ctx.client.clearCooldown({ provider }), {
              what: 'clearCooldown',
              target: `cooldowns/${provider}`,
              after: (r) => (r.cleared ? 'cleared' : 'none active'),
            })
          }
        >
          Clear cooldown
        </button>
      )}
      <details>
        <summary>Start a cooldown</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void ctx.act(
              key,
              () =>
                ctx.client.startCooldown({
                  provider,
                  seconds: Number(seconds),
                  reason: reason.trim(),
                }),
              {
                confirm: `Stop every call to ${provider} for ${seconds} s?`,
                what: 'startCooldown',
                target: `cooldowns/${provider}`,
                after: (r) => `until ${fmtTime(r.cooldown.untilMs)}`,
              },
            );
          }}
        >
          <label>
            Seconds
            <input
              type="number"
              min={1}
              value={seconds}
              onInput={(e) => setSeconds(e.currentTarget.value)}
            />
          </label>
          <label>
            Reason
            <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button type="submit">Start cooldown</button>
        </form>
      </details>
      <Outcome ctx={ctx} id={key} />
    </div>
  );
}

/** Per provider: configured vs effective vs spent share, pauses and pins, the controls. */
function Allocation({ ctx }: { ctx: Ctx }) {
  const data = ctx.status.data;
  if (!data) return null;
  const providers = data.providers.map((p) => p.id);
  return (
    <Section title="Allocation" id="allocation">
      {ctx.canOperate && <MaintenanceControl ctx={ctx} maintenance={data.maintenance} />}
      {providers.map((provider) => {
        const cats = data.categories.filter((c) => c.provider === provider);
        if (cats.length === 0) return null;
        const spentTotal = cats.reduce((s, c) => s + c.usage.granted, 0);
        return (
          <div key={provider} class="alloc" data-provider={provider}>
            <h3>{provider}</h3>
            <StackedShares cats={cats} />
            <PendingLimits provider={data.providers.find((p) => p.id === provider)} />
            <TableWrap label={`${provider} categories`}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">category</th>
                    <th scope="col">configured</th>
                    <th scope="col">effective</th>
                    <th scope="col">gate now</th>
                    <th scope="col">pending</th>
                    <th scope="col">spent</th>
                    <th scope="col">state</th>
                    {ctx.canOperate && <th scope="col">controls</th>}
                  </tr>
                </thead>
                <tbody>
                  {cats.map((c) => (
                    <CategoryRow
                      key={c.id}
                      ctx={ctx}
                      c={c}
                      spentPct={spentTotal > 0 ? (c.usage.granted / spentTotal) * 100 : null}
                      maxShare={maxShareFor(data.categories, c.id)}
                    />
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </div>
        );
      })}
      <p class="muted small">
        "Gate now" is the published share the gate uses at this moment; a change is published with a
        lead time (every instance switches at the same instant), and waits under "pending" with the
        time it takes effect. An effective share that differs from both waits for the next
        publication.
      </p>
    </Section>
  );
}

function PendingLimits({ provider }: { provider: ProviderStatus | undefined }) {
  if (!provider || provider.pendingLimits.length === 0) return null;
  return (
    <p class="small" data-testid="pending-limits">
      Limits change pending:{' '}
      {provider.pendingLimits
        .map((e) => `${e.limits.map(describeLimit).join(', ')} from ${fmtTime(e.effectiveAtMs)}`)
        .join('; ')}
    </p>
  );
}

function describeShareChanges(
  changes: ReadonlyArray<{ category: string; fromPercent: number; toPercent: number }>,
): string {
  if (changes.length === 0) return '';
  return `; shares: ${changes.map((c) => `${c.category} ${fmtPercent(c.fromPercent, 2)} → ${fmtPercent(c.toPercent, 2)}`).join(', ')}`;
}

const PALETTE = ['#1f6feb', '#8250df', '#bf3989', '#0a7c42', '#9a6700', '#cf222e', '#57606a'];

function StackedShares({ cats }: { cats: CategoryStatus[] }) {
  return (
    <div class="stacked" role="img" aria-label="Effective shares">
      {cats.map((c, i) => (
        <span
          key={c.id}
          class="seg"
          title={`${c.id}: ${fmtPercent(c.effectiveSharePercent)}`}
          style={{ width: `${c.effectiveSharePercent}%`, background: PALETTE[i % PALETTE.length] }}
        />
      ))}
    </div>
  );
}

function CategoryRow({
  ctx,
  c,
  spentPct,
  maxShare,
}: {
  ctx: Ctx;
  c: CategoryStatus;
  spentPct: number | null;
  maxShare: number;
}) {
  const [share, setShare] = useState(String(c.configuredSharePercent));
  const key = `category-${c.id}`;
  const wanted = parseShare(share);
  const tooHigh = wanted !== null && wanted > maxShare;
  const stopsWork = wanted !== null && wanted <= c.minSharePercent;
  return (
    <tr data-category={c.id}>
      <th scope="row">{c.id}</th>
      <td>{fmtPercent(c.configuredSharePercent, 2)}</td>
      <td data-testid="effective">{fmtPercent(c.effectiveSharePercent, 2)}</td>
      <td data-testid="gate">{fmtPercent(c.gateSharePercent, 2)}</td>
      <td data-testid="pending">
        {c.pendingShares.length === 0
          ? '—'
          : c.pendingShares.map((p) => (
              <div key={p.effectiveAtMs} class="small">
                {fmtPercent(p.percent, 2)} from {fmtTime(p.effectiveAtMs)}
              </div>
            ))}
      </td>
      <td>{fmtPercent(spentPct)}</td>
      <td>
        {c.paused && <span class="badge warn">paused</span>}
        {c.overridePercent !== null && (
          <span class="badge">pinned {fmtPercent(c.overridePercent)}</span>
        )}
        {!c.paused && c.overridePercent === null && <span class="muted">active</span>}
      </td>
      {ctx.canOperate && (
        <td class="controls">
          {c.paused ? (
            <button
              type="button"
              onClick={() =>
                void ctx.act(key, () => ctx.client.resumeCategory({ category: c.id }), {
                  what: 'resumeCategory',
                  target: `categories/${c.id}`,
                  before: 'paused',
                  after: (r) =>
                    `active, share ${fmtPercent(r.category.sharePercent)}${describeShareChanges(r.shareChanges)}`,
                })
              }
            >
              Resume
            </button>
          ) : (
            <button
              type="button"
              onClick={() =>
                void ctx.act(key, () => ctx.client.pauseCategory({ category: c.id }), {
                  confirm: `Pause ${c.id} and its collections? Its work stops until resumed.`,
                  what: 'pauseCategory',
                  target: `categories/${c.id}`,
                  before: `active, effective ${fmtPercent(c.effectiveSharePercent)}`,
                  after: (r) =>
                    `paused${r.collections.length ? ` with ${r.collections.join(', ')}` : ''}${describeShareChanges(r.shareChanges)}`,
                })
              }
            >
              Pause
            </button>
          )}
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              if (wanted === null || tooHigh) return;
              void ctx.act(
                key,
                () => ctx.client.setCategoryAllocation({ category: c.id, sharePercent: wanted }),
                {
                  confirm: stopsWork
                    ? `Set ${c.id} to ${fmtPercent(wanted, 2)}? At or below its minimum share (${fmtPercent(c.minSharePercent, 2)}) it is paused and its work stops.`
                    : undefined,
                  what: 'setCategoryAllocation',
                  target: `categories/${c.id}`,
                  before: `share ${fmtPercent(c.configuredSharePercent)}`,
                  after: (r) =>
                    `share ${fmtPercent(r.category.sharePercent)}${describeShareChanges(r.shareChanges)}`,
                },
              );
            }}
          >
            <label>
              <span class="sr-only">Share of {c.id} in percent</span>
              <input
                type="number"
                min={0}
                max={maxShare}
                step="any"
                value={share}
                aria-describedby={`max-${c.id}`}
                onInput={(e) => setShare(e.currentTarget.value)}
              />
            </label>
            <button type="submit" disabled={wanted === null || tooHigh}>
              Set share
            </button>
            <span
              id={`max-${c.id}`}
              class={tooHigh || wanted === null ? 'error small' : 'muted small'}
            >
              {wanted === null
                ? 'enter a number'
                : tooHigh
                  ? `at most ${maxShare}% (the provider would pass 100%)`
                  : `≤ ${maxShare}%`}
            </span>
          </form>
          <Outcome ctx={ctx} id={key} />
        </td>
      )}
    </tr>
  );
}

function MaintenanceControl({ ctx, maintenance }: { ctx: Ctx; maintenance: boolean }) {
  return (
    <div class="controls">
      <button
        type="button"
        class={maintenance ? '' : 'danger'}
        onClick={() =>
          void ctx.act(
            'maintenance',
            () =>
              ctx.client.setMaintenanceMode({
                enabled: !maintenance,
                reason: 'from the dashboard',
              }),
            {
              confirm: maintenance ? undefined : 'Turn maintenance on? Every grant stops.',
              what: 'setMaintenanceMode',
              target: 'config/flags',
              before: `maintenance ${maintenance ? 'on' : 'off'}`,
              after: (r) => `maintenance ${r.maintenance ? 'on' : 'off'}`,
            },
          )
        }
      >
        {maintenance ? 'Turn maintenance off' : 'Turn maintenance on'}
      </button>
      <Outcome ctx={ctx} id="maintenance" />
    </div>
  );
}

/** Every collection's status (listCollections), polled. */
function useCollections(ctx: Ctx): Polled<ListCollectionsResult> {
  return usePoll(() => ctx.client.listCollections({}), COLLECTIONS_EVERY_MS, []);
}

function Collections({ ctx, full }: { ctx: Ctx; full?: boolean }) {
  const collections = useCollections(ctx);
  const [open, setOpen] = useState('');
  return (
    <Section title="Collections" id="collections">
      {collections.error ? <Refused refusal={refusalOf(collections.error)} /> : null}
      {collections.data?.collections.length === 0 && <p class="muted">No collections found.</p>}
      <div class="grid">
        {(collections.data?.collections ?? []).map((c) => (
          <CollectionCard key={c.id} c={c} />
        ))}
      </div>
      {collections.data?.truncated && (
        <p class="muted small">
          More collections than one answer lists (the first {collections.data.collections.length} by
          id); open others by id.
        </p>
      )}
      {full && (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (!open.trim()) return;
            location.hash = `#/collections/${encodeURIComponent(open.trim())}`;
          }}
        >
          <label>
            Open a collection by id{' '}
            <input value={open} onInput={(e) => setOpen(e.currentTarget.value)} />
          </label>
          <button type="submit">Open</button>
        </form>
      )}
      {full && ctx.canOperate && <StartCollection ctx={ctx} />}
    </Section>
  );
}

function ProgressBar({
  label,
  percent,
  marks,
}: {
  label: string;
  percent: number;
  /** Completion marks where later phases begin. */
  marks: readonly number[];
}) {
  return (
    <div
      class="bar progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(percent)}
    >
      <span style={{ width: `${Math.min(100, percent)}%` }} />
      {marks.map((m) => (
        <i key={m} class="mark" style={{ left: `${m}%` }} />
      ))}
    </div>
  );
}

/** The schedule's marks after phase 1 (30/75/95% by default). */
function phaseMarks(c: CollectionStatusResult): number[] {
  return c.schedule.slice(1).map((p) => p.fromPercent);
}

function CollectionCard({ c }: { c: CollectionStatusResult }) {
  return (
    <article class="collection" data-collection={c.id}>
      <h3>
        <a href={`#/collections/${encodeURIComponent(c.id)}`}>{c.id}</a>{' '}
        <span class={`badge ${c.status === 'stalled' ? 'warn' : ''}`} data-testid="status">
          {c.status}
        </span>
      </h3>
      <p class="small">
        phase {c.phase} ({fmtPercent(c.phaseSharePercent)} of {c.provider}) ·{' '}
        <span data-testid="overall">
          {fmtNumber(c.overall.collected)}/{fmtNumber(c.overall.target)}
        </span>{' '}
        ({fmtPercent(c.overall.percent)}) · {fmtNumber(c.overall.ratePerHour, 2)}/h · ETA{' '}
        {c.overall.etaAt ? fmtTime(c.overall.etaAt) : '—'}
      </p>
      {c.marketplaces.map((m) => (
        <div key={m.marketplace} class="mp">
          <span class="small">
            {m.marketplace} {fmtNumber(m.collected)}/{fmtNumber(m.target)}
          </span>
          <ProgressBar
            label={`${c.id} ${m.marketplace}`}
            percent={m.percent}
            marks={phaseMarks(c)}
          />
        </div>
      ))}
    </article>
  );
}

function CollectionPage({ ctx, id }: { ctx: Ctx; id: string }) {
  const now = useNow();
  const polled = usePoll(() => ctx.client.getCollectionStatus({ id }), COLLECTIONS_EVERY_MS, [id]);
  const c = polled.data;
  const key = `collection-${id}`;
  return (
    <Section title={`Collection ${id}`} id="collection">
      <p>
        <a href="#/collections">← all collections</a>
      </p>
      {polled.error ? <Refused refusal={refusalOf(polled.error)} /> : null}
      {c && (
        <div class="collection-page" data-collection={c.id}>
          <p>
            <span class={`badge ${c.status === 'stalled' ? 'warn' : ''}`} data-testid="status">
              {c.status}
            </span>{' '}
            {c.provider} / {c.category} · started {fmtTime(c.startedAt)} · last progress{' '}
            {fmtDuration(c.idleMs)} ago
          </p>
          <h3>Phase timeline</h3>
          <PhaseTimeline c={c} liveMs={now - (polled.at ?? now)} />
          <p class="muted small">
            Current share {fmtPercent(c.phaseSharePercent)}, effective{' '}
            {fmtPercent(c.effectiveSharePercent)}.
          </p>
          <h3>Progress</h3>
          <ProgressBar
            label={`${c.id} overall`}
            percent={c.overall.percent}
            marks={phaseMarks(c)}
          />
          <TableWrap label="progress per marketplace">
            <table>
              <thead>
                <tr>
                  <th scope="col">marketplace</th>
                  <th scope="col">collected</th>
                  <th scope="col">%</th>
                  <th scope="col">rate/h</th>
                  <th scope="col">ETA</th>
                </tr>
              </thead>
              <tbody>
                {[...c.marketplaces, { ...c.overall, marketplace: 'overall' }].map((m) => (
                  <tr key={m.marketplace}>
                    <th scope="row">{m.marketplace}</th>
                    <td>
                      {fmtNumber(m.collected)}/{fmtNumber(m.target)}
                    </td>
                    <td>{fmtPercent(m.percent)}</td>
                    <td>{fmtNumber(m.ratePerHour, 2)}</td>
                    <td>{m.etaAt ? fmtTime(m.etaAt) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <p>
            Deadline:{' '}
            {c.deadline
              ? `${fmtTime(c.deadline.atMs)} · ${
                  c.deadline.onTrack === null ? 'unknown' : c.deadline.onTrack ? 'on track' : 'late'
                } · slack ${fmtDuration(c.deadline.slackMs)}${
                  c.deadline.requiredRatePerHour !== null
                    ? ` · needs ${fmtNumber(c.deadline.requiredRatePerHour, 1)}/h`
                    : ''
                }`
              : 'none'}
          </p>
          {ctx.canOperate && (
            <div class="controls">
              <button
                type="button"
                onClick={() =>
                  void ctx.act(key, () => ctx.client.restartCollection({ id }), {
                    confirm:
                      c.status === 'stalled'
                        ? undefined
                        : `${id} is ${c.status}: restart it anyway (its lost work is re-issued)?`,
                    what: 'restartCollection',
                    target: `collections/${id}`,
                    before: c.status,
                    after: (r) => r.collection.status,
                  })
                }
              >
                Restart collection
              </button>
              <Outcome ctx={ctx} id={key} />
            </div>
          )}
        </div>
      )}
    </Section>
  );
}

function brief(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/** The audit log, newest first (listAuditLog, polled), with older pages on demand. */
function AuditLog({ client }: { client: TollgateClient }) {
  const [what, setWhat] = useState('');
  const [filter, setFilter] = useState('');
  // Older pages are anchored to the first page's last entry: once one is loaded, the first page
  // is kept as it was (no more polling, which would shift it and leave a gap) until "Newest".
  const [older, setOlder] = useState<{ entries: AuditLogEntry[]; next: string | null } | null>(
    null,
  );
  const anchored = older !== null;
  const newest = usePoll(
    anchored
      ? null
      : () => client.listAuditLog(filter ? { what: filter, limit: 50 } : { limit: 50 }),
    AUDIT_EVERY_MS,
    [filter, anchored],
  );
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setOlder(null), [filter]);
  const entries = older ? older.entries : (newest.data?.entries ?? []);
  const next = older ? older.next : (newest.data?.nextCursor ?? null);
  const loadMore = async () => {
    if (!next) return;
    const shown = entries;
    try {
      const page = await client.listAuditLog({
        limit: 50,
        startAfter: next,
        ...(filter ? { what: filter } : {}),
      });
      setOlder((o) => ({
        entries: [...(o?.entries ?? shown), ...page.entries],
        next: page.nextCursor,
      }));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div data-testid="audit-log">
      <h3>Audit log</h3>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(what.trim());
        }}
      >
        <label>
          Only the callable <input value={what} onInput={(e) => setWhat(e.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {newest.error ? <Refused refusal={refusalOf(newest.error)} /> : null}
      {error ? <Refused refusal={refusalOf(error)} /> : null}
      {(newest.data || older) && entries.length === 0 && <p>No entries.</p>}
      {entries.length > 0 && (
        <TableWrap label="audit log">
          <table>
            <thead>
              <tr>
                <th scope="col">when</th>
                <th scope="col">who</th>
                <th scope="col">what</th>
                <th scope="col">target</th>
                <th scope="col">before</th>
                <th scope="col">after</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-entry-what={e.what} data-audit-id={e.id}>
                  <td>{fmtTime(e.atMs)}</td>
                  <td>
                    {e.who.email ?? e.who.uid} <span class="muted small">({e.who.role})</span>
                  </td>
                  <td>{e.what}</td>
                  <td>{e.target}</td>
                  <td>
                    <code class="small">{brief(e.before)}</code>
                  </td>
                  <td>
                    <code class="small">{brief(e.after)}</code>
                    {e.reason && <div class="muted small">reason: {e.reason}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {next && (
        <button type="button" onClick={() => void loadMore()}>
          Older entries
        </button>
      )}
      {older && (
        <button type="button" onClick={() => setOlder(null)}>
          Newest entries (live)
        </button>
      )}
    </div>
  );
}

/**
 * Every phase of the collection's schedule: when each entered one began and how long it lasted
 * (the current one counting on), the phases to come with their completion marks.
 */
function PhaseTimeline({ c, liveMs }: { c: CollectionStatusResult; liveMs: number }) {
  return (
    <ol class="phases">
      {c.schedule.map((p) => {
        const entered = c.phaseTimeline.find((t) => t.phase === p.phase);
        const current = c.phase === p.phase;
        return (
          <li
            key={p.phase}
            aria-current={current ? 'step' : undefined}
            data-phase={p.phase}
            data-entered={entered ? 'true' : 'false'}
          >
            phase {p.phase} from {fmtPercent(p.fromPercent)} → {fmtPercent(p.sharePercent)} share
            {entered
              ? ` · began ${fmtTime(entered.startedAt)}${
                  entered.endedAt === null
                    ? ` · current, ${fmtDuration(entered.durationMs + liveMs)} in phase`
                    : ` · lasted ${fmtDuration(entered.durationMs)}`
                }`
              : ' · not reached'}
          </li>
        );
      })}
    </ol>
  );
}

/** `takealot=200, makro=100` -> { takealot: 200, makro: 100 } (numbers as typed: zod checks). */
export function parseTargets(text: string): Record<string, number> {
  const targets: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k) targets[k] = Number(v);
  }
  return targets;
}

function StartCollection({ ctx }: { ctx: Ctx }) {
  const data = ctx.status.data;
  const [id, setId] = useState('');
  const [category, setCategory] = useState('');
  const [targets, setTargets] = useState('');
  if (!data) return null;
  const provider = data.categories.find((c) => c.id === category)?.provider ?? '';
  return (
    <details class="start">
      <summary>Start a collection</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void ctx.act(
            'start-collection',
            () =>
              ctx.client.startCollection({
                id: id.trim(),
                provider,
                category,
                targets: parseTargets(targets),
              }),
            {
              what: 'startCollection',
              target: `collections/${id.trim()}`,
              after: (r) => `${r.collection.status}, phase ${r.collection.phase}`,
            },
          );
        }}
      >
        <label>
          Id <input name="id" value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </label>
        <label>
          Category
          <select
            name="category"
            value={category}
            onChange={(e) => setCategory(e.currentTarget.value)}
          >
            <option value="">(choose)</option>
            {data.categories.map((c) => (
              <option key={c.id} value={c.id}>
                {c.id} ({c.provider})
              </option>
            ))}
          </select>
        </label>
        <label>
          Targets{' '}
          <input
            name="targets"
            placeholder="takealot=200, makro=100"
            value={targets}
            onInput={(e) => setTargets(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Start collection</button>
      </form>
      <Outcome ctx={ctx} id="start-collection" />
    </details>
  );
}

function Audit({ ctx }: { ctx: Ctx }) {
  return (
    <Section title="Audit" id="audit">
      {hasRole(ctx.role, 'admin') ? (
        <AuditLog client={ctx.client} />
      ) : (
        <p class="muted small">
          The audit log (listAuditLog) is for admins: it holds every change's before and after.
        </p>
      )}
      <h3>Changes from this page</h3>
      {ctx.audit.length === 0 ? (
        <p>No changes from this page yet.</p>
      ) : (
        <TableWrap label="changes from this page">
          <table>
            <thead>
              <tr>
                <th scope="col">when</th>
                <th scope="col">what</th>
                <th scope="col">target</th>
                <th scope="col">before</th>
                <th scope="col">after</th>
                <th scope="col">audit entry</th>
              </tr>
            </thead>
            <tbody>
              {ctx.audit.map((a) => (
                <tr key={`${a.atMs}-${a.what}-${a.target}`} data-what={a.what}>
                  <td>{fmtTime(a.atMs)}</td>
                  <td>{a.what}</td>
                  <td>{a.target}</td>
                  <td>{a.before}</td>
                  <td>{a.after}</td>
                  <td>
                    <code>{a.auditId ?? '(no change)'}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </Section>
  );
}
