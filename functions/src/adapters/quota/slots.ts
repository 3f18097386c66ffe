import type { Firestore } from 'firebase-admin/firestore';
import type { SlotLease } from '../../core/quota/gate';
import { acquireLease } from '../lease';
import { docId, QUOTA_COLLECTIONS } from './collections';

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
  /** Deletes the lease document, unless another instance took it over since. */
  giveBack(): Promise<void>;
}

/**
 * Concurrency caps without a write per call: an instance leases slot documents
 * (`quotaSlots/{provider}~{i}`, i < cap; see lease.ts) and reuses a leased slot for call after call, giving it
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
      [...this.held.values()].flatMap((slots) =>
        slots.splice(0).map((slot) => this.giveBack(slot)),
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
    const lease = await acquireLease(this.ref(provider, index), now, this.leaseMs, {
      owner: this.owner,
      provider,
    });
    if (lease.kind === 'held') return undefined;
    this.writes++;
    return { index, busy: false, expiresAtMs: now + this.leaseMs, giveBack: lease.release };
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
            void this.giveBack(slot);
          }
        }, this.idleMs);
        slot.idleTimer.unref?.();
      },
    };
  }

  private async giveBack(slot: HeldSlot): Promise<void> {
    clearTimeout(slot.idleTimer);
    await slot.giveBack();
    this.writes++;
  }
}
