import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadRuntimeConfig } from '../../src/adapters/config-repository';
import { loadPipelineConfig } from '../../src/adapters/pipeline/pipeline-config';
import { restorablePathProblem } from '../../src/core/backup/backup-scope';
import {
  AUDIT_LOG_COLLECTION,
  callableRegistry,
  hasRole,
  type ImplementedCallable,
  ROLES,
  type Role,
} from '../../src/core/operations';
import { quietLogger } from '../support/quiet-logger';
import { payloadsFor } from './arbitraries';
import {
  apiFixture,
  changedPaths,
  isCallLimitClaim,
  quickSnapshot,
  recordWrites,
  request,
  SUBCOLLECTIONS,
  selfTest,
} from './support';

/**
 * For every callable, at least 1,000 random and malformed payloads, mostly from a caller with
 * the callable's role (operator, admin for admin callables) but also from every other role, no
 * role, odd role claims (`" ADMIN "`) and no user, each callable in a Firestore namespace of
 * its own:
 *
 * - never an `internal` error (nor anything but an HttpsError), and the code each failure
 *   class expects: no user `unauthenticated`; a role below the callable's (as firestore.rules
 *   reads claims: exactly) `permission-denied`; a payload the schema refuses
 *   `invalid-argument`; past the schema, only the codes the callable lists (EXPECTED_CODES);
 * - an error writes nothing: the client sent no write during the call (a write log on the
 *   client sees every commit), and if it sent one, every document is compared before and
 *   after; Auth claims are compared too;
 * - a success that changed a document wrote an audit entry in the same commit, and an audit
 *   entry comes only with a change; reads write nothing, an audited read (an export) only its
 *   entry; a restore only the backed-up collections; after any change the configuration still
 *   loads (no share sum over 100% from a restored category);
 * - every 100 runs and at the end, a snapshot of every document proves that the database changed
 *   only where the write log says successful calls wrote (so the log misses nothing).
 *
 * Per-run snapshots would cost a few milliseconds of emulator time each (14,000 of them); the
 * write log costs nothing and the checkpoints keep it honest.
 */

/** `npm run fuzz` runs 10,000 per callable (FUZZ_RUNS); `npm test` a tenth of that. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const CHECKPOINT_EVERY = 100;
/** Derived documents republished after a committed change (see operations/documents.ts). */
const DERIVED = [
  'quotaAllocations/',
  // Quota bookkeeping of a refresh's gate calls (refreshRealtimeSales).
  'quotaBlocks/',
  'quotaSlots/',
  // The lease role changes take turns with (operations/users.ts), not a change itself.
  'system/roleLease',
];

/**
 * What each callable may answer once its input parsed: a domain error the caller can act on.
 * A hostile backup is `invalid-argument` (the file is the input), never a partial write.
 */
const EXPECTED_CODES: Record<ImplementedCallable, readonly string[]> = {
  getStatus: [],
  getCollectionStatus: ['not-found'],
  listCollections: [],
  // A cursor naming no entry.
  listAuditLog: ['not-found'],
  getQuotaStats: ['not-found', 'failed-precondition'],
  getRecentWarnings: [],
  getRealtimeSalesSummary: [],
  getValidationReport: [],
  exportBackup: ['permission-denied'],
  startCollection: ['not-found', 'failed-precondition'],
  restartCollection: ['not-found', 'failed-precondition'],
  setCategoryAllocation: ['not-found', 'failed-precondition'],
  pauseCategory: ['not-found', 'failed-precondition'],
  resumeCategory: ['not-found', 'failed-precondition'],
  clearCooldown: ['not-found'],
  startCooldown: ['not-found'],
  // Invalid merged documents and shares their categories cannot carry.
  setProviderLimits: ['invalid-argument', 'failed-precondition'],
  setMaintenanceMode: [],
  setFlags: ['invalid-argument', 'failed-precondition'],
  validateData: [],
  forceFlush: ['not-found'],
  // `aborted`: another role change holds the lease (users.ts).
  setUserRole: ['not-found', 'failed-precondition', 'invalid-argument', 'aborted'],
  refreshRealtimeSales: [],
  importBackup: ['invalid-argument'],
  purgeProviderQueues: ['not-found', 'invalid-argument'],
  // A policy whose documents do not validate; more recorded demand than one replay reads.
  simulatePolicy: ['not-found', 'invalid-argument', 'failed-precondition'],
};

/** Who calls: claims (null: no user). */
type Caller = Record<string, unknown> | null;

/**
 * The role firestore.rules gives these claims: `role` exactly one of the names, or a boolean
 * claim exactly true; the highest wins. Independent of roleFromClaims, which must agree.
 */
function rulesRole(claims: Record<string, unknown>): Role | null {
  let best: Role | null = null;
  for (const role of ROLES) {
    if (claims.role === role || claims[role] === true) best = role;
  }
  return best;
}

function callers(required: Role): fc.Arbitrary<Caller> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant({ role: required === 'admin' ? 'admin' : 'operator' }) },
    { weight: 2, arbitrary: fc.constantFrom(...ROLES).map((role) => ({ role })) },
    { weight: 1, arbitrary: fc.constantFrom(...ROLES).map((role) => ({ [role]: true })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Caller>(
        null,
        {},
        { role: ' ADMIN ' },
        { role: 'Admin' },
        { role: 'admin ' },
        { admin: 'true' },
        { role: 'root' },
        { role: ['admin'] },
      ),
    },
  );
}

const isAudit = (path: string) => path.startsWith(`${AUDIT_LOG_COLLECTION}/`);

const isDerived = (path: string) => DERIVED.some((d) => path.startsWith(d));

/** Registers the fuzz test of each callable named (call it from a test file). */
export function fuzzCallables(names: readonly ImplementedCallable[]) {
  quietLogger();

  describe.each(names)('%s under fuzzing', (name) => {
    it(`survives ${RUNS} random and malformed payloads`, { timeout: 90 * RUNS }, async () => {
      const fixture = await apiFixture();
      const log = recordWrites(fixture.db);

      const spec = callableRegistry[name];
      const fn = fixture.callables[name];
      const outcomes: Record<string, number> = {};
      let checkpoint = await quickSnapshot(fixture.db, SUBCOLLECTIONS);
      let writtenSinceCheckpoint = new Set<string>();
      let runs = 0;

      const verifyCheckpoint = async () => {
        const now = await quickSnapshot(fixture.db, SUBCOLLECTIONS);
        const unexplained = changedPaths(checkpoint, now).filter(
          (p) => !writtenSinceCheckpoint.has(p),
        );
        expect(unexplained).toEqual([]);
        checkpoint = now;
        writtenSinceCheckpoint = new Set();
      };

      try {
        await selfTest(fixture.db, log);
        checkpoint = await quickSnapshot(fixture.db, SUBCOLLECTIONS);
        await fc.assert(
          fc.asyncProperty(callers(spec.role), payloadsFor(name), async (caller, payload) => {
            const users = fixture.users.snapshot();
            const queueCalls = fixture.queues.calls.length;
            const before = checkpoint;
            // Time moves (the call limit refills): a millisecond a call, a token of the fixture's.
            fixture.clock.now += 1;
            log.reset();
            let error: unknown;
            try {
              await fn.run(request(payload, caller));
            } catch (e) {
              error = e;
            }
            const role = caller === null ? null : rulesRole(caller);
            const expected =
              caller === null
                ? 'unauthenticated'
                : !hasRole(role, spec.role)
                  ? 'permission-denied'
                  : !spec.input.safeParse(payload ?? {}).success
                    ? 'invalid-argument'
                    : undefined;
            const written = log.paths().filter((path) => !isCallLimitClaim(path));
            const commits = log.commits.filter((commit) => !commit.every(isCallLimitClaim));
            runs++;
            if (error !== undefined) {
              const code = (error as { code?: string }).code ?? 'not an HttpsError';
              outcomes[code] = (outcomes[code] ?? 0) + 1;
              expect(code).not.toBe('internal');
              expect(code).not.toBe('not an HttpsError');
              // The code of its failure class: access, input, then the operation's own.
              if (expected) expect(code).toBe(expected);
              else expect(EXPECTED_CODES[name], code).toContain(code);
              expect(fixture.users.snapshot()).toBe(users);
              if (written.some((path) => !isDerived(path))) {
                // A commit of a change was sent: it must have failed as a whole.
                expect(
                  changedPaths(before, await quickSnapshot(fixture.db, SUBCOLLECTIONS)),
                ).toEqual([]);
              }
            } else {
              expect(expected).toBeUndefined();
              outcomes.ok = (outcomes.ok ?? 0) + 1;
              for (const path of written) writtenSinceCheckpoint.add(path);
              const audits = written.filter(isAudit);
              const changes = written.filter((p) => !isAudit(p) && !isDerived(p));
              const claimsChanged = fixture.users.snapshot() !== users;
              // Cloud Tasks changes (a purge) are audited like Firestore and Auth changes.
              const queuesChanged = fixture.queues.calls
                .slice(queueCalls)
                .some((call) => /^(purge|pause|resume|setRate) /.test(call));
              if (!spec.auditsReads) {
                expect(audits.length > 0).toBe(
                  changes.length > 0 || claimsChanged || queuesChanged,
                );
              }
              // Every commit that changed something carries its own audit entry.
              for (const commit of commits) {
                if (commit.every(isDerived)) continue;
                expect(commit.filter(isAudit)).toHaveLength(1);
              }
              if (spec.auditsReads) {
                // A read that is audited (an export): its one entry, nothing else.
                expect(commits).toHaveLength(1);
                expect(commits[0]!.every(isAudit)).toBe(true);
                expect(commits[0]).toHaveLength(1);
              } else if (!spec.mutates) expect(written).toEqual([]);
              if (name === 'importBackup') {
                // A restore writes the backed-up collections only (and its audit entries).
                const outside = written.filter((p) => !isAudit(p) && restorablePathProblem(p));
                expect(outside).toEqual([]);
              }
              if (spec.mutates) {
                // Whatever a change wrote, the configuration still loads: the gate and
                // getStatus keep working.
                await loadRuntimeConfig(fixture.db);
                await loadPipelineConfig(fixture.db);
              }
            }
            if (runs % CHECKPOINT_EVERY === 0) await verifyCheckpoint();
          }),
          { numRuns: RUNS, seed: fuzzSeed(name) },
        );
        await verifyCheckpoint();
      } finally {
        log.stop();
        await fixture.close();
      }
      if (process.env.FUZZ_VERBOSE) console.info(name, outcomes);
      expect(runs).toBeGreaterThanOrEqual(RUNS);
      // The generators reach the operations, not only the schema.
      expect(outcomes.ok ?? 0).toBeGreaterThan(0);
    });
  });
}

/** Reproducible per callable; FUZZ_SEED explores other runs. */
function fuzzSeed(name: string): number {
  let hash = Number(process.env.FUZZ_SEED ?? 20260110);
  for (const char of name) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}
