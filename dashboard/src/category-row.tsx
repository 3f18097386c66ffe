// One category's row in the allocation table: its shares and state, and an operator's pause,
// resume and set-share controls.
import type { CategoryStatus } from '@tollgate/client';
import { useState } from 'preact/hooks';
import type { Ctx } from './context.ts';
import { fmtPercent, fmtTime, parseShare } from './format.ts';
import { Outcome } from './ui.tsx';

function describeShareChanges(
  changes: ReadonlyArray<{ category: string; fromPercent: number; toPercent: number }>,
): string {
  if (changes.length === 0) return '';
  return `; shares: ${changes.map((c) => `${c.category} ${fmtPercent(c.fromPercent, 2)} → ${fmtPercent(c.toPercent, 2)}`).join(', ')}`;
}

export function CategoryRow({
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
