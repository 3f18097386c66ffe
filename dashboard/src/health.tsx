import type { StatusResult, TollgateClient } from '@tollgate/client';
import { fmtDuration, fmtNumber, fmtPercent, fmtTime, refusalOf } from './format.ts';
import { usePoll } from './hooks.ts';
import { TableWrap } from './table-wrap.tsx';

/**
 * Health: data validation per marketplace (getValidationReport), queue depth and oldest task
 * (getQuotaStats' fleet statistics: the sampled depths of the provider queues), the Firestore
 * self-quota (getStatus.firestore) and its recent warnings (getRecentWarnings).
 */
export default function Health({
  client,
  status,
}: {
  client: TollgateClient;
  status: StatusResult | null;
}) {
  const validation = usePoll(() => client.getValidationReport({ findings: 10 }), 30_000, []);
  const warnings = usePoll(() => client.getRecentWarnings({ limit: 20 }), 15_000, []);
  const queues = usePoll(() => client.getQuotaStats({ minutes: 60 }), 30_000, []);
  const latestQueues = new Map<string, { depth: number; oldest: number | null; at: number }>();
  for (const q of queues.data?.upstream.queues ?? []) {
    latestQueues.set(q.queue, { depth: q.depth, oldest: q.oldestAgeSeconds, at: q.startMs });
  }
  const fs = status?.firestore ?? null;
  const v = validation.data;
  return (
    <div>
      <section class="card" aria-labelledby="h-validation">
        <h2 id="h-validation">Data validation</h2>
        {validation.error ? <p class="error">{refusalOf(validation.error).message}</p> : null}
        {!v && !validation.error && <p class="muted">Loading…</p>}
        {v && !v.latest && <p>No validation run yet.</p>}
        {v?.latest && (
          <>
            <p>
              Latest run {v.latest.runId} at {fmtTime(v.latest.completedAt)}: pass rate{' '}
              <strong>
                {v.latest.passRate === null ? '—' : fmtPercent(v.latest.passRate * 100)}
              </strong>{' '}
              ({fmtNumber(v.latest.passed)}/{fmtNumber(v.latest.products)})
            </p>
            <TableWrap label="validation per marketplace">
              <table>
                <thead>
                  <tr>
                    <th scope="col">marketplace</th>
                    <th scope="col">pass rate</th>
                    <th scope="col">passed</th>
                    <th scope="col">failed</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(v.latest.marketplaces).map(([m, n]) => (
                    <tr key={m}>
                      <th scope="row">{m}</th>
                      <td>{n.passRate === null ? '—' : fmtPercent(n.passRate * 100)}</td>
                      <td>{fmtNumber(n.passed)}</td>
                      <td>{fmtNumber(n.failed)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
            <h3>Latest findings</h3>
            <ul>
              {v.findings.map((f) => (
                <li key={f.product}>
                  {f.marketplace} {f.productKey}: {f.findings.map((x) => x.rule).join(', ')}
                  {f.fix ? ` (re-collection ${f.fix.result})` : ''}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      <section class="card" aria-labelledby="h-queues">
        <h2 id="h-queues">Queues</h2>
        {latestQueues.size === 0 ? (
          <p class="muted">No queue samples in the last hour (the heartbeat samples them).</p>
        ) : (
          <TableWrap label="queues">
            <table>
              <thead>
                <tr>
                  <th scope="col">queue</th>
                  <th scope="col">depth</th>
                  <th scope="col">oldest task</th>
                  <th scope="col">sampled</th>
                </tr>
              </thead>
              <tbody>
                {[...latestQueues].map(([queue, q]) => (
                  <tr key={queue}>
                    <th scope="row">{queue}</th>
                    <td>{fmtNumber(q.depth, 1)}</td>
                    <td>{q.oldest === null ? '—' : fmtDuration(q.oldest * 1000)}</td>
                    <td>{fmtTime(q.at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
      <section class="card" aria-labelledby="h-firestore">
        <h2 id="h-firestore">Firestore self-quota</h2>
        {!fs ? (
          <p class="muted">Not counted by the instance that answered.</p>
        ) : (
          <>
            <p>
              {fs.throttling ? (
                <span class="badge warn">throttling</span>
              ) : (
                <span class="badge">not throttled</span>
              )}{' '}
              buffer ×{fmtNumber(fs.multiplier, 2)}, pipeline ×{fmtNumber(fs.pipelineMultiplier, 2)}{' '}
              · limits from {fs.limitsSource} · {fs.recentWarnings} warnings since{' '}
              {fmtTime(fs.recentWarningsSinceMs)}
            </p>
            <TableWrap label="Firestore self-quota">
              <table>
                <thead>
                  <tr>
                    <th scope="col">op</th>
                    <th scope="col">per second</th>
                    <th scope="col">per minute</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(fs.usage).map(([op, w]) => (
                    <tr key={op}>
                      <th scope="row">{op}</th>
                      {Object.values(w).map((x, i) => (
                        <td key={String(i)}>
                          {fmtNumber(x.usage)}/{fmtNumber(x.limit)} ({fmtPercent(x.percent)})
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </>
        )}
        <h3>Recent warnings</h3>
        {(warnings.data?.warnings ?? []).length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <ul>
            {warnings.data?.warnings.map((w) => (
              <li key={`${w.atMs}-${w.op}-${w.window}`}>
                {fmtTime(w.atMs)} {w.op} per {w.window}: {fmtNumber(w.usage)}/{fmtNumber(w.limit)} (
                {fmtPercent(w.percent)})
              </li>
            ))}
          </ul>
        )}
        <p class="small" data-testid="health-heartbeat">
          Heartbeat (getStatus):{' '}
          {!status
            ? 'loading…'
            : status.heartbeat.lastBeatMs === null
              ? 'no beat recorded yet (the scheduler has not run)'
              : `last beat ${fmtTime(status.heartbeat.lastBeatMs)} (${fmtDuration(status.nowMs - status.heartbeat.lastBeatMs)} before the status was read), ${fmtNumber(status.heartbeat.beats)} beats`}
          . The <code>health</code> function's report shows it to scrapers too.
        </p>
      </section>
    </div>
  );
}
