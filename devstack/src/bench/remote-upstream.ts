import type { BenchUpstream } from './harness.ts';
import type { UpstreamStats } from './token-bucket-upstream.ts';

/** The upstream running in another process, driven over its own HTTP endpoints. */
export function remoteUpstream(url: string): BenchUpstream {
  return {
    url,
    reset: async () => {
      const response = await fetch(`${url}/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`upstream reset: ${response.status}`);
    },
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as UpstreamStats,
  };
}

/** The upstream's bucket for the next run, and no window (over HTTP: it may be remote). */
export async function shapeUpstream(
  upstream: Pick<BenchUpstream, 'url'>,
  shape: { capacity: number; refillPerSecond: number },
): Promise<void> {
  const response = await fetch(
    `${upstream.url}/reset?capacity=${shape.capacity}&refillPerSecond=${shape.refillPerSecond}` +
      '&windowLimit=0',
    { method: 'POST' },
  );
  if (!response.ok) throw new Error(`upstream reset: ${response.status}`);
}
