import type { QuotaStatsResult, StatusResult, TollgateClient } from '@tollgate/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNumber, refusalOf } from './format.ts';
import { usePoll } from './hooks.ts';
import { TableWrap } from './table-wrap.tsx';

/**
 * Usage over time from getQuotaStats: granted / deferred / 429 per minute (per category and
 * provider, summed over the selection), and upstream latency p50/p95 from its fleet statistics.
 * Loaded on demand (uPlot is not in the initial page). Drag across a chart to zoom.
 */

const RANGES: Array<[string, number]> = [
  ['last hour', 60],
  ['last day', 1_440],
  ['last 30 days', 43_200],
];

export function seriesOf(stats: QuotaStatsResult, provider: string, category: string) {
  const buckets = new Map<number, { granted: number; deferred: number; quota429: number }>();
  for (const m of stats.minutes) {
    if (provider && m.provider !== provider) continue;
    if (category && m.category !== category) continue;
    const b = buckets.get(m.minuteMs) ?? { granted: 0, deferred: 0, quota429: 0 };
    b.granted += m.granted;
    b.deferred += m.deferred;
    b.quota429 += m.quota429;
    buckets.set(m.minuteMs, b);
  }
  const xs = [...buckets.keys()].sort((a, b) => a - b);
  return {
    x: xs.map((x) => x / 1000),
    granted: xs.map((x) => buckets.get(x)!.granted),
    deferred: xs.map((x) => buckets.get(x)!.deferred),
    quota429: xs.map((x) => buckets.get(x)!.quota429),
  };
}

function Chart({
  title,
  data,
  series,
}: {
  title: string;
  data: uPlot.AlignedData;
  series: Array<{ label: string; stroke: string }>;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [width, setWidth] = useState(600);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(240, el.clientWidth)));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width,
        height: 220,
        title,
        cursor: { drag: { x: true, y: false } },
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5 }))],
        axes: [{}, { size: 60 }],
      },
      data,
      el,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [data, width, title]);
  return <div class="chart" ref={ref} />;
}

export default function Usage({
  client,
  status,
}: {
  client: TollgateClient;
  status: StatusResult | null;
}) {
  const [minutes, setMinutes] = useState(60);
  const [provider, setProvider] = useState('');
  const [category, setCategory] = useState('');
  // The range is fetched once, unfiltered (a 30-day range costs 30 call-limit tokens); the
  // provider and category filters apply here. A new range starts from no data (usePoll clears
  // its state when its deps change), never the previous range's.
  const stats = usePoll(() => client.getQuotaStats({ minutes }), minutes <= 60 ? 15_000 : 60_000, [
    minutes,
  ]);
  const s = stats.data ? seriesOf(stats.data, provider, category) : null;
  const latency = stats.data?.upstream.points.filter((p) => !provider || p.provider === provider);
  const latencyX = [...new Set((latency ?? []).map((p) => p.startMs))].sort((a, b) => a - b);
  const worst = (pick: 'p50Ms' | 'p95Ms') =>
    latencyX.map((x) => {
      const values = (latency ?? [])
        .filter((p) => p.startMs === x && p[pick] !== null)
        .map((p) => p[pick] as number);
      return values.length ? Math.max(...values) : null;
    });
  return (
    <section class="card" aria-labelledby="h-usage">
      <h2 id="h-usage">Usage over time</h2>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label>
          Range
          <select value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
            {RANGES.map(([label, m]) => (
              <option key={m} value={m}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Provider
          <select value={provider} onChange={(e) => setProvider(e.currentTarget.value)}>
            <option value="">all</option>
            {(status?.providers ?? []).map((p) => (
              <option key={p.id}>{p.id}</option>
            ))}
          </select>
        </label>
        <label>
          Category
          <select value={category} onChange={(e) => setCategory(e.currentTarget.value)}>
            <option value="">all</option>
            {(status?.categories ?? [])
              .filter((c) => !provider || c.provider === provider)
              .map((c) => (
                <option key={c.id}>{c.id}</option>
              ))}
          </select>
        </label>
      </form>
      {stats.error ? <p class="error">{refusalOf(stats.error).message}</p> : null}
      {!s && !stats.error && <p class="muted">Loading the range…</p>}
      {s && (
        <>
          <Chart
            title="Per minute: granted, deferred, 429"
            data={[s.x, s.granted, s.deferred, s.quota429]}
            series={[
              { label: 'granted', stroke: '#1f6feb' },
              { label: 'deferred', stroke: '#9a6700' },
              { label: '429', stroke: '#cf222e' },
            ]}
          />
          {stats.data?.truncated && (
            <p class="muted small">More minutes than one answer holds: the oldest are left out.</p>
          )}
          <Chart
            title={`Upstream latency (ms, worst operation per ${Math.round((stats.data?.upstream.stepMs ?? 60_000) / 60_000)} min)`}
            data={[latencyX.map((x) => x / 1000), worst('p50Ms'), worst('p95Ms')]}
            series={[
              { label: 'p50', stroke: '#0a7c42' },
              { label: 'p95', stroke: '#8250df' },
            ]}
          />
          <TableWrap label="upstream calls per operation">
            <table>
              <thead>
                <tr>
                  <th scope="col">provider</th>
                  <th scope="col">operation</th>
                  <th scope="col">calls</th>
                  <th scope="col">errors</th>
                  <th scope="col">429s</th>
                  <th scope="col">p50 ms</th>
                  <th scope="col">p95 ms</th>
                </tr>
              </thead>
              <tbody>
                {(stats.data?.upstream.totals ?? [])
                  .filter((t) => !provider || t.provider === provider)
                  .map((t) => (
                    <tr key={`${t.provider}-${t.operation}`}>
                      <td>{t.provider}</td>
                      <td>{t.operation}</td>
                      <td>{fmtNumber(t.calls)}</td>
                      <td>{t.errorRate === null ? '—' : `${fmtNumber(t.errorRate * 100, 1)}%`}</td>
                      <td>
                        {t.quotaErrorRate === null
                          ? '—'
                          : `${fmtNumber(t.quotaErrorRate * 100, 1)}%`}
                      </td>
                      <td>{fmtNumber(t.p50Ms)}</td>
                      <td>{fmtNumber(t.p95Ms)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </TableWrap>
        </>
      )}
    </section>
  );
}
