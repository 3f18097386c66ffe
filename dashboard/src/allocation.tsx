// The allocation view: per provider the categories' shares, pending limit changes, and the
// maintenance switch.
import type { CategoryStatus, ProviderStatus } from '@tollgate/client';
import { CategoryRow } from './category-row.tsx';
import type { Ctx } from './context.ts';
import { describeLimit, fmtPercent, fmtTime, maxShareFor } from './format.ts';
import { TableWrap } from './table-wrap.tsx';
import { Outcome, Section } from './ui.tsx';

/** Per provider: configured vs effective vs spent share, pauses and pins, the controls. */
export function Allocation({ ctx }: { ctx: Ctx }) {
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
