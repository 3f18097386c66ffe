// The providers view: per provider its cooldown, upstream meter, limits with their use and
// forecast, and the scheduler's heartbeat.
import type { ProviderStatus, StatusResult } from '@tollgate/client';
import type { Ctx } from './context.ts';
import { CooldownControls } from './cooldown-controls.tsx';
import {
  boundPerSecond,
  describeLimit,
  fmtDuration,
  fmtNumber,
  fmtTime,
  forecastWindow,
} from './format.ts';
import { useNow, usePoll } from './hooks.ts';
import { Gauge, Section } from './ui.tsx';

/** Per provider: each limit as use against its bound, the cooldown, the forecast. */
export function Providers({ ctx }: { ctx: Ctx }) {
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
