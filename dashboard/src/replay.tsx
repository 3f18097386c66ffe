import type { SimulatePolicyResult, StatusResult, TollgateClient } from '@tollgate/client';
import { useState } from 'preact/hooks';
import { fmtNumber, fmtTime, type Refusal, refusalOf } from './format.ts';
import { replayPolicyOf, replayRows } from './replay-model.ts';
import { TableWrap } from './table-wrap.tsx';
import { Refused } from './ui.tsx';

/**
 * Policy replay (simulatePolicy): the recorded demand of a recent range replayed under the
 * configuration in force and under a proposed one, side by side. The proposal is the shares
 * typed per category of a provider, and any other configuration documents written as JSON.
 * Operators only, as the callable; loaded on demand.
 */

const RANGES: Array<[string, number]> = [
  ['last hour', 60],
  ['last 6 hours', 360],
  ['last day', 1_440],
];

export default function Replay({
  client,
  status,
  canOperate,
}: {
  client: TollgateClient;
  status: StatusResult | null;
  canOperate: boolean;
}) {
  const providers = status?.providers.map((p) => p.id) ?? [];
  const [minutes, setMinutes] = useState(60);
  const [chosen, setProvider] = useState('');
  const provider = chosen || providers[0] || '';
  const categories = (status?.categories ?? []).filter((c) => c.provider === provider);
  const [shares, setShares] = useState<Record<string, string>>({});
  const [documents, setDocuments] = useState('');
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<SimulatePolicyResult | null>(null);
  const [refusal, setRefusal] = useState<Refusal | null>(null);

  if (!canOperate) {
    return (
      <section class="card" aria-labelledby="h-replay">
        <h2 id="h-replay">Replay a policy</h2>
        <p class="muted">Replaying recorded demand needs the operator role (simulatePolicy).</p>
      </section>
    );
  }

  const run = async () => {
    const configured = Object.fromEntries(categories.map((c) => [c.id, c.configuredSharePercent]));
    const ofProvider = Object.fromEntries(
      Object.entries(shares).filter(([id]) => id in configured),
    );
    const made = replayPolicyOf(ofProvider, configured, documents);
    if ('issues' in made) {
      setResult(null);
      setRefusal({
        code: 'invalid-argument',
        message: 'not sent: fix the fields',
        issues: made.issues,
      });
      return;
    }
    setRunning(true);
    setRefusal(null);
    setResult(null);
    try {
      const to = Date.now();
      setResult(
        await client.simulatePolicy({
          from: to - minutes * 60_000,
          to,
          provider,
          policy: made.policy as Parameters<TollgateClient['simulatePolicy']>[0]['policy'],
        }),
      );
    } catch (error) {
      setRefusal(refusalOf(error));
    } finally {
      setRunning(false);
    }
  };

  return (
    <section class="card" aria-labelledby="h-replay">
      <h2 id="h-replay">Replay a policy</h2>
      <p class="muted small">
        The demand the gate recorded in the range, replayed through the same gate under a simulated
        clock: once under the configuration in force, once with the changes below. Nothing is
        changed.
      </p>
      <form
        class="replay-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <div class="inline">
          <label>
            Range
            <select
              value={minutes}
              disabled={running}
              onChange={(e) => {
                setMinutes(Number(e.currentTarget.value));
                setResult(null);
                setRefusal(null);
              }}
            >
              {RANGES.map(([label, m]) => (
                <option key={m} value={m}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Provider
            <select
              value={provider}
              disabled={running}
              onChange={(e) => {
                setProvider(e.currentTarget.value);
                setResult(null);
                setRefusal(null);
              }}
            >
              {providers.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        </div>
        {categories.length > 0 && (
          <TableWrap label={`${provider} shares, current and proposed`}>
            <table>
              <thead>
                <tr>
                  <th scope="col">category</th>
                  <th scope="col">share now</th>
                  <th scope="col">proposed share</th>
                </tr>
              </thead>
              <tbody>
                {categories.map((c) => (
                  <tr key={c.id}>
                    <td>{c.id}</td>
                    <td>{fmtNumber(c.configuredSharePercent, 2)}%</td>
                    <td>
                      <input
                        type="text"
                        inputMode="decimal"
                        size={6}
                        aria-label={`proposed share of ${c.id}`}
                        placeholder={String(c.configuredSharePercent)}
                        value={shares[c.id] ?? ''}
                        onInput={(e) => {
                          const value = e.currentTarget.value;
                          setShares((s) => ({ ...s, [c.id]: value }));
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <label class="block">
          Other changes (optional): configuration documents as JSON,{' '}
          <code>{'{"providers": [{"id": "keepa", ...}], "flags": {...}}'}</code>
          <textarea
            rows={3}
            value={documents}
            onInput={(e) => setDocuments(e.currentTarget.value)}
            spellcheck={false}
          />
        </label>
        <button type="submit" disabled={running || !provider}>
          {running ? 'Replaying…' : 'Replay'}
        </button>
      </form>
      {refusal && <Refused refusal={refusal} />}
      {result && !running && <ReplayResult result={result} />}
    </section>
  );
}

function ReplayResult({ result }: { result: SimulatePolicyResult }) {
  const rows = replayRows(result);
  const changed = [
    ...result.changed.providers.map((p) => `providers/${p}`),
    ...result.changed.categories.map((c) => `categories/${c}`),
    ...result.changed.flags.map((f) => `flags.${f}`),
  ];
  return (
    <div class="replay-result" aria-live="polite">
      <p role="status">
        Replayed {fmtTime(result.fromMs)} to {fmtTime(result.toMs)}: {fmtNumber(result.documents)}{' '}
        demand documents, {fmtNumber(result.demand.firstAsks)} first asks,{' '}
        {fmtNumber(result.instances)} simulated instances, {fmtNumber(result.speedup)}x real time.
        Changes: {changed.length > 0 ? changed.join(', ') : 'none'}.
      </p>
      <TableWrap label="limits, current → proposed">
        <table>
          <thead>
            <tr>
              <th scope="col">provider</th>
              <th scope="col">limit</th>
              <th scope="col">utilization</th>
              <th scope="col">used</th>
              <th scope="col">allowance</th>
            </tr>
          </thead>
          <tbody>
            {rows.limits.map((l) => (
              <tr key={l.key}>
                <td>{l.provider}</td>
                <td>{l.limit}</td>
                <td>{l.utilization}</td>
                <td>{l.used}</td>
                <td>{l.allowance}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <TableWrap label="categories, current → proposed">
        <table data-testid="replay-categories">
          <thead>
            <tr>
              <th scope="col">category</th>
              <th scope="col">asked</th>
              <th scope="col">granted</th>
              <th scope="col">deferrals</th>
              <th scope="col">wait p50</th>
              <th scope="col">wait p99</th>
              <th scope="col">waiting at end</th>
            </tr>
          </thead>
          <tbody>
            {rows.categories.map((c) => (
              <tr key={c.key}>
                <td>{c.key}</td>
                <td>{c.asked}</td>
                <td>{c.granted}</td>
                <td>{c.deferrals}</td>
                <td>{c.waitP50}</td>
                <td>{c.waitP99}</td>
                <td>{c.waitingAtEnd}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <p>
        Predicted upstream 429s: current {rows.upstream429.current}; proposed{' '}
        {rows.upstream429.proposed}.
      </p>
      {rows.collections.length > 0 && (
        <TableWrap label="collections, ETA current → proposed">
          <table>
            <thead>
              <tr>
                <th scope="col">collection</th>
                <th scope="col">category</th>
                <th scope="col">remaining</th>
                <th scope="col">ETA</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              {rows.collections.map((c) => (
                <tr key={c.id}>
                  <td>{c.id}</td>
                  <td>{c.category}</td>
                  <td>{c.remaining}</td>
                  <td>{c.eta}</td>
                  <td>{c.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </div>
  );
}
