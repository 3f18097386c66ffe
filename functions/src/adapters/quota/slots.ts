import { type Firestore, Timestamp } from 'firebase-admin/firestore';
import type { SlotLease } from '../../core/quota/gate';
import { docId, isAlreadyExists, QUOTA_COLLECTIONS } from './collections';

export interface SlotPoolOptions {
  now?: () => number;
  random?: () => number;
  /** A lease nobody renews is free again after this. */
  leaseMs?: number;
  /** A slot idle this long goes back to the other instances. */
  idleMs?: number;
}

interface HeldSlot {
  index: number;
  busy: boolean;
  expiresAtMs: number;
  idleTimer?: NodeJS.Timeout;
}

/**
 * Concurrency caps without a write per call: an instance leases slot documents
 * (`quotaSlots/{provider}~{i}`, i < cap; create-if-absent, or take-over of an expired lease
 * with a lastUpdateTime precondition) and reuses a leased slot for call after call, giving it
 * back when idle. Calls in flight across instances never exceed the cap while leases are live.
 */
export class SlotPool {
  private readonly held = new Map<string, HeldSlot[]>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  writes = 0;

  constructor(
    private readonly db: Firestore,
    private readonly owner: string,
    options: SlotPoolOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.idleMs = options.idleMs ?? 5_000;
  }

  private ref(provider: string, index: number) {
    return this.db.collection(QUOTA_COLLECTIONS.slots).doc(docId(provider, String(index)));
  }

  async acquire(provider: string, cap: number): Promise<SlotLease | undefined> {
    const slots = this.held.get(provider) ?? [];
    this.held.set(provider, slots);
    const now = this.now();
    // Reuse a held slot whose lease still has at least half its time left.
    const free = slots.find(
      (s) => !s.busy && s.index < cap && s.expiresAtMs - now > this.leaseMs / 2,
    );
    if (free) return this.use(provider, free);
    for (const index of this.order(cap, slots)) {
      const slot = await this.lease(provider, index, now);
      if (slot) {
        slots.push(slot);
        return this.use(provider, slot);
      }
    }
    return undefined;
  }

  /** Gives every held slot back (shutdown). */
  async releaseAll(): Promise<void> {
    await Promise.all(
      [...this.held.entries()].flatMap(([provider, slots]) =>
        slots.splice(0).map((slot) => this.giveBack(provider, slot)),
      ),
    );
  }

  private order(cap: number, slots: HeldSlot[]): number[] {
    const mine = new Set(slots.map((s) => s.index));
    const indices = Array.from({ length: cap }, (_, i) => i).filter((i) => !mine.has(i));
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [indices[i], indices[j]] = [indices[j]!, indices[i]!];
    }
    return indices;
  }

  private async lease(provider: string, index: number, now: number): Promise<HeldSlot | undefined> {
    const ref = this.ref(provider, index);
    const data = {
      owner: this.owner,
      provider,
      expiresAt: Timestamp.fromMillis(now + this.leaseMs),
    };
    try {
      await ref.create(data);
      this.writes++;
      return { index, busy: false, expiresAtMs: now + this.leaseMs };
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    const snap = await ref.get();
    const expiresAt = snap.get('expiresAt') as Timestamp | undefined;
    if (snap.exists && expiresAt && expiresAt.toMillis() > now) return undefined;
    try {
      // Take over only the expired lease we read: a concurrent taker makes this fail.
      if (snap.exists) await ref.update(data, { lastUpdateTime: snap.updateTime! });
      else await ref.create(data);
      this.writes++;
      return { index, busy: false, expiresAtMs: now + this.leaseMs };
    } catch {
      return undefined;
    }
  }

  private use(provider: string, slot: HeldSlot): SlotLease {
    slot.busy = true;
    clearTimeout(slot.idleTimer);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        slot.busy = false;
        slot.idleTimer = setTimeout(() => {
          const slots = this.held.get(provider) ?? [];
          const i = slots.indexOf(slot);
          if (i >= 0 && !slot.busy) {
            slots.splice(i, 1);
            void this.giveBack(provider, slot);
          }
        }, this.idleMs);
        slot.idleTimer.unref?.();
      },
    };
  }

  private async giveBack(provider: string, slot: HeldSlot): Promise<void> {
    clearTimeout(slot.idleTimer);
    const ref = this.ref(provider, slot.index);
    await this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      if (snap.get('owner') === this.owner) tx.delete(ref);
    });
    this.writes++;
  }
}
