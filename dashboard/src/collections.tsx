// The collections list: a card with progress per collection, opening one by id, and starting
// a new one.
import type { CollectionStatusResult, ListCollectionsResult } from '@tollgate/client';
import { useState } from 'preact/hooks';
import type { Ctx } from './context.ts';
import { fmtNumber, fmtPercent, fmtTime, refusalOf } from './format.ts';
import { type Polled, usePoll } from './hooks.ts';
import { Outcome, Refused, Section } from './ui.tsx';

export const COLLECTIONS_EVERY_MS = 4_000;

/** Every collection's status (listCollections), polled. */
function useCollections(ctx: Ctx): Polled<ListCollectionsResult> {
  return usePoll(() => ctx.client.listCollections({}), COLLECTIONS_EVERY_MS, []);
}

export function Collections({ ctx, full }: { ctx: Ctx; full?: boolean }) {
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

export function ProgressBar({
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
export function phaseMarks(c: CollectionStatusResult): number[] {
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
