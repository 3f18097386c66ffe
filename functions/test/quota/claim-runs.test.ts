import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firestoreClaims } from '../../src/adapters/quota/claims';
import { docId, QUOTA_COLLECTIONS } from '../../src/adapters/quota/collections';
import type { BlockRef } from '../../src/core/quota/token-source';
import { testFirestore } from '../support/firestore';

let db: Firestore;
let close: () => Promise<void>;
beforeAll(() => ({ db, close } = testFirestore()));
afterAll(() => close());

const block = (k: number): BlockRef => ({
  id: `0-${k}`,
  start: k,
  end: k + 1,
  expiresAtMs: Date.now() + 60_000,
});
const blocks = (from: number, length: number) => Array.from({ length }, (_, i) => block(from + i));
const run = (from: number, length: number) => ({ blocks: blocks(from, length), pages: [] });

async function owners(key: string, refs: BlockRef[]): Promise<Array<string | undefined>> {
  const docs = await db.getAll(
    ...refs.map((ref) => db.collection(QUOTA_COLLECTIONS.blocks).doc(docId(key, ref.id))),
  );
  return docs.map((doc) => doc.get('owner') as string | undefined);
}

/** Runs claim all their blocks or none, on the emulator as in production (one batch of creates). */
describe('firestoreClaims.claimRun', () => {
  it('claims a run all or none: a run overlapping a claimed block creates none of its blocks', async () => {
    const key = 'runs~a~0';
    const a = firestoreClaims(db, 'a');
    const b = firestoreClaims(db, 'b');
    expect(await a.claimRun(key, run(0, 3))).toEqual([]);
    expect(await b.claimRun(key, run(2, 3))).toEqual(['0-2']);
    expect(await owners(key, blocks(0, 5))).toEqual(['a', 'a', 'a', undefined, undefined]);
  });

  it('gives each racing run to one instance whole, and the others none of it', async () => {
    const key = 'runs~b~0';
    // Twelve instances claim runs of four at once, each overlapping its neighbours' runs.
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => ({
        owner: `i${i}`,
        refs: blocks(i * 2, 4),
        taken: await firestoreClaims(db, `i${i}`).claimRun(key, run(i * 2, 4)),
      })),
    );
    for (const { owner, refs, taken } of results) {
      const stored = await owners(key, refs);
      if (taken.length === 0) expect(stored).toEqual([owner, owner, owner, owner]);
      else {
        // Lost: none of its blocks was created for it, and those named are someone else's.
        expect(stored.filter((o) => o === owner)).toEqual([]);
        for (const id of taken) expect(stored[refs.findIndex((r) => r.id === id)]).toBeDefined();
      }
    }
    expect(results.filter((r) => r.taken.length === 0).length).toBeGreaterThan(0);
  });

  it('never answers won for a run only partly its own', async () => {
    const key = 'runs~d~0';
    const a = firestoreClaims(db, 'a');
    expect(await a.claimRun(key, run(0, 2))).toEqual([]);
    expect(await a.claimRun(key, run(1, 2))).toEqual(['0-1']);
    expect(await owners(key, blocks(0, 3))).toEqual(['a', 'a', undefined]);
  });

  it('answers won when its own commit landed and only the answer was lost (the SDK retried it)', async () => {
    const key = 'runs~c~0';
    // The commit lands and its answer is lost; the retry finds the documents and fails.
    const twice = new Proxy(db, {
      get(target, prop) {
        if (prop !== 'batch') return Reflect.get(target, prop, target);
        return () => {
          const batch = target.batch();
          const commit = batch.commit.bind(batch);
          return Object.assign(batch, {
            commit: async () => {
              await commit();
              throw Object.assign(new Error('6 ALREADY_EXISTS: retried'), { code: 6 });
            },
          });
        };
      },
    });
    expect(await firestoreClaims(twice, 'a').claimRun(key, run(0, 2))).toEqual([]);
    expect(await owners(key, blocks(0, 2))).toEqual(['a', 'a']);
  });

  it('never answers won for blocks an earlier claim of the same owner holds', async () => {
    const key = 'runs~e~0';
    const a = firestoreClaims(db, 'a');
    expect(await a.claimRun(key, run(0, 2))).toEqual([]);
    // The same owner (a gate started afresh on one instance) asking again: taken, not won.
    expect(await a.claimRun(key, run(0, 2))).toEqual(['0-0', '0-1']);
    expect(await firestoreClaims(db, 'b').claimRun(key, run(0, 2))).toEqual(['0-0', '0-1']);
  });

  it('claims a run’s pages whole with its blocks, in the same commit', async () => {
    const key = 'runs~f~0';
    const page = { id: '0-p1', start: 8, end: 16, expiresAtMs: Date.now() + 60_000 };
    const a = firestoreClaims(db, 'a');
    expect(await a.claimRun(key, { blocks: blocks(6, 2), pages: [page] })).toEqual([]);
    const stored = await db.collection(QUOTA_COLLECTIONS.blocks).doc(docId(key, page.id)).get();
    expect(stored.get('mode')).toBe('whole');
    // A page someone holds fails the whole run, its blocks included.
    expect(
      await firestoreClaims(db, 'b').claimRun(key, { blocks: blocks(16, 1), pages: [page] }),
    ).toEqual(['0-p1']);
    expect(await owners(key, blocks(16, 1))).toEqual([undefined]);
  });
});
