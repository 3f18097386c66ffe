// Small pieces the views share: a refusal, a change's outcome, a titled card, a gauge.
import type { ComponentChildren } from 'preact';
import type { Ctx } from './context.ts';
import { fmtPercent, type Refusal } from './format.ts';

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

export function Outcome({ ctx, id }: { ctx: Ctx; id: string }) {
  const o = ctx.outcome[id];
  if (!o) return null;
  if ('refused' in o) return <Refused refusal={o.refused} />;
  return (
    <p class="ok small" role="status">
      {o.ok}
    </p>
  );
}

export function Section({
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

export function Gauge({
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
