// The overview: providers, allocation and collections on one page.
import { useEffect } from 'preact/hooks';
import { Allocation } from './allocation.tsx';
import { Collections } from './collections.tsx';
import type { Ctx } from './context.ts';
import { Providers } from './providers.tsx';

export function Overview({ ctx }: { ctx: Ctx }) {
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
