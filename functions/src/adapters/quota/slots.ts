import type { Firestore } from 'firebase-admin/firestore';
import type { SlotLease } from '../../core/quota/gate-ports';
import { logger } from '../../log';
import { type AcquiredLease, acquireLease } from '../lease';
import { docId, QUOTA_COLLECTIONS } from './collections';

export interface SlotPoolOptions {
  now?: () => number;
  random?: () => number;
  /**
   * The default hold of a call (how long it may run), and the renewal rhythm: a busy slot's
   * lease is renewed every third of this. A lease nobody renews is free again after
   * holdMs + marginMs + leaseMs / 3 + idleMs (90 s for a default call).
   */
  leaseMs?: number;
  /** A slot idle this long goes back to the other instances. */
  idleMs?: number;
  /**
   * Kept on top of a call's hold when judging whether a lease covers it (clock skew between
   * instances, write latency). Default leaseMs / 12 (5 s).
   */
  marginMs?: number;
}

interface HeldSlot {
  index: number;
  lease: AcquiredLease;
  busy: boolean;
  /** The hold of the call using the slot (or that used it last): renewals cover it again. */
  holdMs: number;
  /** Lost to another instance (never reused, never given back) or given back. */
  done?: 'lost' | 'returned';
  idleTimer?: NodeJS.Timeout;
  renewTimer?: NodeJS.Timeout;
}

/**
 * Concurrency caps without a write per call: an instance leases slot documents
 * (`quotaSlots/{provider}~{i}`, i < cap; see adapters/lease.ts) and reuses a leased slot for call after
 * call, giving it back when idle. A slot serves a call only while its lease covers the call's
 * hold plus a margin (renewed first otherwise, one write), and a busy slot's lease is renewed in
 * the background, guarded by its last write time: calls in flight across instances never
 * exceed the cap while leases are live, and a lease found taken over is dropped, not reused.
 */
export class SlotPool {
  private readonly held = new Map<string, HeldSlot[]>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private readonly marginMs: number;
  private readonly renewEveryMs: number;
  /** Lease documents written: leased, renewed, given back. */
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
    this.marginMs = options.marginMs ?? this.leaseMs / 12;
    this.renewEveryMs = this.leaseMs / 3;
  }

  private ref(provider: string, index: number) {
    return this.db.collection(QUOTA_COLLECTIONS.slots).doc(docId(provider, String(index)));
  }

  /**
   * A slot for a call that may run `holdMs` (its deadline; default leaseMs), or undefined when
   * all `cap` slots are in use. The slot's lease covers holdMs plus the margin when this
   * resolves, and is renewed in the background until the lease is released.
   */
  async acquire(
    provider: string,
    cap: number,
    holdMs: number = this.leaseMs,
  ): Promise<SlotLease | undefined> {
    const slots = this.slotsOf(provider);
    const now = this.now();
    const idle = slots.filter((s) => !s.busy && s.index < cap);
    const ready = idle.find((s) => s.lease.expiresAtMs - now >= holdMs + this.marginMs);
    if (ready) return this.use(provider, ready, holdMs);
    // A held slot whose lease is too short for this call: renew it (one write) before
    // reaching for a slot this instance does not hold.
    for (const slot of idle) {
      if (await this.extend(provider, slot, holdMs)) return this.use(provider, slot, holdMs);
    }
    for (const index of this.order(cap, slots)) {
      const slot = await this.lease(provider, index, holdMs);
      if (slot) {
        slots.push(slot);
        return this.use(provider, slot, holdMs);
      }
    }
    return undefined;
  }

  /**
   * Renews the lease of every busy slot now, as the background timers do (for tests and
   * diagnostics). Never rejects; a lease found lost is dropped.
   */
  async renewNow(): Promise<void> {
    await Promise.all(
      [...this.held].flatMap(([provider, slots]) =>
        slots.filter((s) => s.busy).map((s) => this.renew(provider, s)),
      ),
    );
  }

  /** Gives every held slot back (shutdown). */
  async releaseAll(): Promise<void> {
    await Promise.all(
      [...this.held.values()].flatMap((slots) =>
        slots.splice(0).map((slot) => this.giveBack(slot)),
      ),
    );
  }

  private slotsOf(provider: string): HeldSlot[] {
    let slots = this.held.get(provider);
    if (!slots) {
      slots = [];
      this.held.set(provider, slots);
    }
    return slots;
  }

  /**
   * How long a lease written now lasts: the call's hold and the margin, plus one renewal
   * period (busy, unrenewed) and the idle time, so the next call of that hold can reuse the
   * slot without a write.
   */
  private term(holdMs: number): number {
    return holdMs + this.marginMs + this.renewEveryMs + this.idleMs;
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

  private async lease(
    provider: string,
    index: number,
    holdMs: number,
  ): Promise<HeldSlot | undefined> {
    const lease = await acquireLease(this.ref(provider, index), this.now(), this.term(holdMs), {
      owner: this.owner,
      provider,
    });
    if (lease.kind === 'held') return undefined;
    this.writes++;
    return { index, lease, busy: false, holdMs };
  }

  /** Renews a held idle slot for a call of `holdMs`: true when it is now good for the call. */
  private async extend(provider: string, slot: HeldSlot, holdMs: number): Promise<boolean> {
    if (slot.busy || slot.done) return false; // taken or dropped meanwhile
    slot.busy = true; // keeps concurrent acquires and the idle timer off it
    clearTimeout(slot.idleTimer);
    try {
      if (await slot.lease.renew(this.now() + this.term(holdMs))) {
        this.writes++;
        if (!slot.done) return true; // else given back meanwhile (releaseAll)
      } else {
        this.lose(provider, slot, 'before reuse');
      }
    } catch (error) {
      // Unknown whether the renewal landed: hand the slot back (guarded, so never someone else's).
      logger.warn(
        { err: error, provider, slot: slot.index },
        'concurrency slot lease not renewed; giving it back',
      );
      if (this.drop(provider, slot)) this.giveBackLater(slot);
    }
    slot.busy = false;
    return false;
  }

  private use(provider: string, slot: HeldSlot, holdMs: number): SlotLease {
    slot.busy = true;
    slot.holdMs = holdMs;
    clearTimeout(slot.idleTimer);
    this.scheduleRenewal(provider, slot);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        slot.busy = false;
        clearTimeout(slot.renewTimer);
        if (slot.done) return;
        slot.idleTimer = setTimeout(() => {
          if (!slot.busy && this.drop(provider, slot)) this.giveBackLater(slot);
        }, this.idleMs);
        slot.idleTimer.unref?.();
      },
    };
  }

  /** Next renewal: a third of the lease from now, or earlier if only the margin would be left. */
  private scheduleRenewal(provider: string, slot: HeldSlot): void {
    clearTimeout(slot.renewTimer);
    const leftMs = slot.lease.expiresAtMs - this.now() - this.marginMs;
    const delayMs = Math.min(this.renewEveryMs, Math.max(this.renewEveryMs / 10, leftMs));
    slot.renewTimer = setTimeout(() => {
      this.renew(provider, slot).catch((error: unknown) =>
        logger.warn({ err: error, provider, slot: slot.index }, 'concurrency slot renewal failed'),
      );
    }, delayMs);
    slot.renewTimer.unref?.();
  }

  /** Renews a busy slot's lease; never rejects (failures are logged and retried). */
  private async renew(provider: string, slot: HeldSlot): Promise<void> {
    if (!slot.busy || slot.done) return;
    let renewed: boolean;
    try {
      renewed = await slot.lease.renew(this.now() + this.term(slot.holdMs));
    } catch (error) {
      logger.warn(
        { err: error, provider, slot: slot.index },
        'concurrency slot lease not renewed; retrying',
      );
      if (slot.busy && !slot.done) this.scheduleRenewal(provider, slot);
      return;
    }
    if (!renewed) {
      if (!slot.done) this.lose(provider, slot, slot.busy ? 'during a call' : 'after a call');
      return;
    }
    this.writes++;
    if (slot.busy && !slot.done) this.scheduleRenewal(provider, slot);
  }

  /** Another instance took the lease over: never reuse the slot, never give it back. */
  private lose(provider: string, slot: HeldSlot, when: string): void {
    slot.done = 'lost';
    clearTimeout(slot.renewTimer);
    clearTimeout(slot.idleTimer);
    this.drop(provider, slot);
    logger.warn(
      { provider, slot: slot.index, owner: this.owner, when },
      'concurrency slot lease was taken over by another instance; dropping the slot',
    );
  }

  /** Removes the slot from those held; false when it was not held any more. */
  private drop(provider: string, slot: HeldSlot): boolean {
    const slots = this.held.get(provider) ?? [];
    const i = slots.indexOf(slot);
    if (i < 0) return false;
    slots.splice(i, 1);
    return true;
  }

  private giveBackLater(slot: HeldSlot): void {
    this.giveBack(slot).catch((error: unknown) =>
      logger.warn({ err: error, slot: slot.index }, 'concurrency slot not given back'),
    );
  }

  private async giveBack(slot: HeldSlot): Promise<void> {
    if (slot.done) return;
    slot.done = 'returned';
    clearTimeout(slot.idleTimer);
    clearTimeout(slot.renewTimer);
    await slot.lease.release();
    this.writes++;
  }
}
