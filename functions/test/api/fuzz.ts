import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_LOG_COLLECTION,
  callableRegistry,
  type ImplementedCallable,
} from '../../src/core/api';
import { quietLogger } from '../support/quiet-logger';
import { payloadsFor } from './arbitraries';
import {
  apiFixture,
  as,
  changedPaths,
  quickSnapshot,
  recordWrites,
  SUBCOLLECTIONS,
  selfTest,
} from './support';

/**
 * For every callable, at least 1,000 random and malformed payloads from a caller with the
 * callable's role (operator, admin for admin callables), each callable in a Firestore
 * namespace of its own:
 *
 * - never an `internal` error (nor anything but an HttpsError);
 * - an error writes nothing: the client sent no write during the call (a write log on the
 *   client sees every commit), and if it sent one, every document is compared before and
 *   after; Auth claims are compared too;
 * - a success that changed a document wrote an audit entry in the same commit, and an audit
 *   entry comes only with a change; reads write nothing;
 * - every 100 runs and at the end, a snapshot of every document proves that the database changed
 *   only where the write log says successful calls wrote (so the log misses nothing).
 *
 * Per-run snapshots would cost a few milliseconds of emulator time each (14,000 of them); the
 * write log costs nothing and the checkpoints keep it honest.
 */

const RUNS = 1_000;
const CHECKPOINT_EVERY = 100;
/** Derived documents republished after a committed change (see operations/documents.ts). */
const DERIVED = [
  'quotaAllocations/',
  // Quota bookkeeping of a refresh's gate calls (refreshRealtimeSales).
  'quotaBlocks/',
  'quotaSlots/',
];

const isAudit = (path: string) => path.startsWith(`${AUDIT_LOG_COLLECTION}/`);
const isDerived = (path: string) => DERIVED.some((d) => path.startsWith(d));

/** Registers the fuzz test of each callable named (call it from a test file). */
export function fuzzCallables(names: readonly ImplementedCallable[]) {
  quietLogger();

  describe.each(names)('%s under fuzzing', (name) => {
    it(`survives ${RUNS} random and malformed payloads`, { timeout: 90_000 }, async () => {
      const fixture = await apiFixture();
      const log = recordWrites(fixture.db);
      const role = callableRegistry[name].role === 'admin' ? 'admin' : 'operator';
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
          fc.asyncProperty(payloadsFor(name), async (payload) => {
            const users = fixture.users.snapshot();
            const queueCalls = fixture.queues.calls.length;
            const before = checkpoint;
            log.reset();
            let error: unknown;
            try {
              await fn.run(as(role, payload));
            } catch (e) {
              error = e;
            }
            const written = log.paths();
            runs++;
            if (error !== undefined) {
              const code = (error as { code?: string }).code ?? 'not an HttpsError';
              outcomes[code] = (outcomes[code] ?? 0) + 1;
              expect(code).not.toBe('internal');
              expect(code).not.toBe('not an HttpsError');
              expect(fixture.users.snapshot()).toBe(users);
              if (written.length > 0) {
                // A commit was sent: it must have failed as a whole.
                expect(
                  changedPaths(before, await quickSnapshot(fixture.db, SUBCOLLECTIONS)),
                ).toEqual([]);
              }
            } else {
              outcomes.ok = (outcomes.ok ?? 0) + 1;
              for (const path of written) writtenSinceCheckpoint.add(path);
              const audits = written.filter(isAudit);
              const changes = written.filter((p) => !isAudit(p) && !isDerived(p));
              const claimsChanged = fixture.users.snapshot() !== users;
              // Cloud Tasks changes (a purge) are audited like Firestore and Auth changes.
              const queuesChanged = fixture.queues.calls
                .slice(queueCalls)
                .some((call) => /^(purge|pause|resume|setRate) /.test(call));
              expect(audits.length > 0).toBe(changes.length > 0 || claimsChanged || queuesChanged);
              // Every commit that changed something carries its own audit entry.
              for (const commit of log.commits) {
                if (commit.every(isDerived)) continue;
                expect(commit.filter(isAudit)).toHaveLength(1);
              }
              if (!callableRegistry[name].mutates) expect(written).toEqual([]);
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
