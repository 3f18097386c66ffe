// What every view gets from the shell: the client, the role, the polled status, and `act`,
// which runs a change and keeps its outcome and audit line.
import type { CallableName, Role, StatusResult, TollgateClient } from '@tollgate/client';
import type { Refusal } from './format.ts';
import type { Polled } from './hooks.ts';

/** A change made from this page, with the audit entry the callable wrote. */
export interface AuditLine {
  atMs: number;
  what: CallableName;
  target: string;
  auditId: string | null;
  before: string;
  after: string;
}

export interface Ctx {
  client: TollgateClient;
  role: Role | null;
  canOperate: boolean;
  status: Polled<StatusResult>;
  /** Runs a change: confirmation where it stops work, refusal shown, audit line kept. */
  act: <T extends { auditId?: string | null }>(
    key: string,
    run: () => Promise<T>,
    options: {
      confirm?: string;
      what: CallableName;
      target: string;
      before?: string;
      after?: (result: T) => string;
    },
  ) => Promise<T | null>;
  outcome: Record<string, { ok: string } | { refused: Refusal }>;
  audit: AuditLine[];
}
