// One collection's page: its phase timeline, progress per marketplace, deadline, and an
// operator's restart.
import type { CollectionStatusResult } from '@tollgate/client';
import { COLLECTIONS_EVERY_MS, ProgressBar, phaseMarks } from './collections.tsx';
import type { Ctx } from './context.ts';
import { fmtDuration, fmtNumber, fmtPercent, fmtTime, refusalOf } from './format.ts';
import { useNow, usePoll } from './hooks.ts';
import { TableWrap } from './table-wrap.tsx';
import { Outcome, Refused, Section } from './ui.tsx';

export function CollectionPage({ ctx, id }: { ctx: Ctx; id: string }) {
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
