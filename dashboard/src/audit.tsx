// The audit view: the audit log for admins, and the changes made from this page.
import type { AuditLogEntry, TollgateClient } from '@tollgate/client';
import { hasRole } from '@tollgate/client';
import { useEffect, useState } from 'preact/hooks';
import type { Ctx } from './context.ts';
import { fmtTime, refusalOf } from './format.ts';
import { usePoll } from './hooks.ts';
import { TableWrap } from './table-wrap.tsx';
import { Refused, Section } from './ui.tsx';

const AUDIT_EVERY_MS = 10_000;

function brief(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/** The audit log, newest first (listAuditLog, polled), with older pages on demand. */
function AuditLog({ client }: { client: TollgateClient }) {
  const [what, setWhat] = useState('');
  const [filter, setFilter] = useState('');
  // Older pages are anchored to the first page's last entry: once one is loaded, the first page
  // is kept as it was (no more polling, which would shift it and leave a gap) until "Newest".
  const [older, setOlder] = useState<{ entries: AuditLogEntry[]; next: string | null } | null>(
    null,
  );
  const anchored = older !== null;
  const newest = usePoll(
    anchored
      ? null
      : () => client.listAuditLog(filter ? { what: filter, limit: 50 } : { limit: 50 }),
    AUDIT_EVERY_MS,
    [filter, anchored],
  );
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setOlder(null), [filter]);
  const entries = older ? older.entries : (newest.data?.entries ?? []);
  const next = older ? older.next : (newest.data?.nextCursor ?? null);
  const loadMore = async () => {
    if (!next) return;
    const shown = entries;
    try {
      const page = await client.listAuditLog({
        limit: 50,
        startAfter: next,
        ...(filter ? { what: filter } : {}),
      });
      setOlder((o) => ({
        entries: [...(o?.entries ?? shown), ...page.entries],
        next: page.nextCursor,
      }));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div data-testid="audit-log">
      <h3>Audit log</h3>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(what.trim());
        }}
      >
        <label>
          Only the callable <input value={what} onInput={(e) => setWhat(e.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {newest.error ? <Refused refusal={refusalOf(newest.error)} /> : null}
      {error ? <Refused refusal={refusalOf(error)} /> : null}
      {(newest.data || older) && entries.length === 0 && <p>No entries.</p>}
      {entries.length > 0 && (
        <TableWrap label="audit log">
          <table>
            <thead>
              <tr>
                <th scope="col">when</th>
                <th scope="col">who</th>
                <th scope="col">what</th>
                <th scope="col">target</th>
                <th scope="col">before</th>
                <th scope="col">after</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-entry-what={e.what} data-audit-id={e.id}>
                  <td>{fmtTime(e.atMs)}</td>
                  <td>
                    {e.who.email ?? e.who.uid} <span class="muted small">({e.who.role})</span>
                  </td>
                  <td>{e.what}</td>
                  <td>{e.target}</td>
                  <td>
                    <code class="small">{brief(e.before)}</code>
                  </td>
                  <td>
                    <code class="small">{brief(e.after)}</code>
                    {e.reason && <div class="muted small">reason: {e.reason}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {next && (
        <button type="button" onClick={() => void loadMore()}>
          Older entries
        </button>
      )}
      {older && (
        <button type="button" onClick={() => setOlder(null)}>
          Newest entries (live)
        </button>
      )}
    </div>
  );
}

export function Audit({ ctx }: { ctx: Ctx }) {
  return (
    <Section title="Audit" id="audit">
      {hasRole(ctx.role, 'admin') ? (
        <AuditLog client={ctx.client} />
      ) : (
        <p class="muted small">
          The audit log (listAuditLog) is for admins: it holds every change's before and after.
        </p>
      )}
      <h3>Changes from this page</h3>
      {ctx.audit.length === 0 ? (
        <p>No changes from this page yet.</p>
      ) : (
        <TableWrap label="changes from this page">
          <table>
            <thead>
              <tr>
                <th scope="col">when</th>
                <th scope="col">what</th>
                <th scope="col">target</th>
                <th scope="col">before</th>
                <th scope="col">after</th>
                <th scope="col">audit entry</th>
              </tr>
            </thead>
            <tbody>
              {ctx.audit.map((a) => (
                <tr key={`${a.atMs}-${a.what}-${a.target}`} data-what={a.what}>
                  <td>{fmtTime(a.atMs)}</td>
                  <td>{a.what}</td>
                  <td>{a.target}</td>
                  <td>{a.before}</td>
                  <td>{a.after}</td>
                  <td>
                    <code>{a.auditId ?? '(no change)'}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </Section>
  );
}
