// The signed-in page: header, navigation, the polled status and `act` shared by every view,
// and the routing from the hash to a view.
import type { Role, StatusResult } from '@tollgate/client';
import { hasRole } from '@tollgate/client';
import { signOut, type User } from 'firebase/auth';
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { Allocation } from './allocation.tsx';
import { Audit } from './audit.tsx';
import { CollectionPage } from './collection-page.tsx';
import { Collections } from './collections.tsx';
import type { AuditLine, Ctx } from './context.ts';
import type { Backend } from './firebase.ts';
import { fmtDuration, refusalOf } from './format.ts';
import { type Polled, useNow, usePoll, useRoute } from './hooks.ts';
import { Overview } from './overview.tsx';
import { Providers } from './providers.tsx';
import { Refused } from './ui.tsx';
import { ViewBoundary } from './view-boundary.tsx';

const Usage = lazy(() => import('./usage.tsx'));
const Health = lazy(() => import('./health.tsx'));
const Replay = lazy(() => import('./replay.tsx'));

const STATUS_EVERY_MS = 3_000;

export function Shell({
  backend,
  user,
  role,
}: {
  backend: Backend;
  user: User;
  role: Role | null;
}) {
  const { client } = backend;
  const route = useRoute();
  const status = usePoll(role ? () => client.getStatus({}) : null, STATUS_EVERY_MS, [role]);
  const [outcome, setOutcome] = useState<Ctx['outcome']>({});
  const [audit, setAudit] = useState<AuditLine[]>([]);

  const act: Ctx['act'] = async (key, run, options) => {
    if (options.confirm && !window.confirm(options.confirm)) return null;
    setOutcome((o) => ({ ...o, [key]: { ok: 'working…' } }));
    try {
      const result = await run();
      const line: AuditLine = {
        atMs: Date.now(),
        what: options.what,
        target: options.target,
        auditId: result.auditId ?? null,
        before: options.before ?? '',
        after: options.after ? options.after(result) : '',
      };
      setAudit((a) => [line, ...a].slice(0, 50));
      setOutcome((o) => ({
        ...o,
        [key]: { ok: `done${line.auditId ? ` (audit entry ${line.auditId})` : ' (no change)'}` },
      }));
      status.refresh();
      return result;
    } catch (error) {
      setOutcome((o) => ({ ...o, [key]: { refused: refusalOf(error) } }));
      return null;
    }
  };

  const ctx: Ctx = {
    client,
    role,
    canOperate: hasRole(role, 'operator'),
    status,
    act,
    outcome,
    audit,
  };
  const view = route[0] ?? '';
  const nav: Array<[string, string]> = [
    ['', 'Overview'],
    ['providers', 'Providers'],
    ['allocation', 'Allocation'],
    ['collections', 'Collections'],
    ['usage', 'Usage'],
    ['replay', 'Replay'],
    ['health', 'Health'],
    ['audit', 'Audit'],
  ];
  return (
    <div class="shell">
      <header>
        <h1>
          <a class="brand" href="#/">
            Tollgate
          </a>
        </h1>
        <span class="muted">{backend.projectId}</span>
        {status.data?.maintenance && <span class="badge warn">maintenance</span>}
        <span class="spacer" />
        <span class="who">
          {user.email ?? user.uid} · <strong data-testid="role">{role ?? 'no role'}</strong>
        </span>
        <button type="button" class="link" onClick={() => void signOut(backend.auth)}>
          Sign out
        </button>
      </header>
      <nav aria-label="Views">
        {nav.map(([path, label]) => (
          <a key={path} href={`#/${path}`} aria-current={view === path ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <main>
        {!role ? (
          <p class="error" role="alert">
            This account has no Tollgate role (viewer, operator or admin): ask an admin to grant one
            (setUserRole).
          </p>
        ) : (
          <>
            <Freshness status={status} />
            <ViewBoundary key={route.join('/')} view={view}>
              <View view={view} route={route} ctx={ctx} />
            </ViewBoundary>
          </>
        )}
      </main>
    </div>
  );
}

function Freshness({ status }: { status: Polled<StatusResult> }) {
  const now = useNow();
  if (status.error && !status.data) return <Refused refusal={refusalOf(status.error)} />;
  return (
    <p class="muted small" aria-live="off">
      {status.at ? `updated ${fmtDuration(now - status.at)} ago` : 'loading…'}
      {status.error ? ` · last refresh failed: ${refusalOf(status.error).message}` : ''}
      {status.data ? ` · version ${status.data.version}` : ''}
    </p>
  );
}

function View({ view, route, ctx }: { view: string; route: string[]; ctx: Ctx }) {
  switch (view) {
    case 'providers':
      return <Providers ctx={ctx} />;
    case 'allocation':
      return <Allocation ctx={ctx} />;
    case 'collections':
      return route[1] ? (
        <CollectionPage key={route[1]} ctx={ctx} id={route[1]} />
      ) : (
        <Collections ctx={ctx} full />
      );
    case 'usage':
      return (
        <Suspense fallback={<p>Loading charts…</p>}>
          <Usage client={ctx.client} status={ctx.status.data} />
        </Suspense>
      );
    case 'replay':
      return (
        <Suspense fallback={<p>Loading…</p>}>
          <Replay client={ctx.client} status={ctx.status.data} canOperate={ctx.canOperate} />
        </Suspense>
      );
    case 'health':
      return (
        <Suspense fallback={<p>Loading…</p>}>
          <Health client={ctx.client} status={ctx.status.data} />
        </Suspense>
      );
    case 'audit':
      return <Audit ctx={ctx} />;
    default:
      return <Overview ctx={ctx} />;
  }
}
