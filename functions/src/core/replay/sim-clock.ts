/**
 * Simulated time for replay: timers fire in order of time (then of creation), and between two
 * instants every promise the fired timers started runs to rest before time moves on. Nothing
 * waits for real, not even a turn of the event loop (see rest).
 */
export class SimClock {
  t: number;
  private heap: Array<{ at: number; seq: number; fire: () => void }> = [];
  private seq = 0;
  /** Instants run so far (diagnostics). */
  turns = 0;

  constructor(startMs: number) {
    this.t = startMs;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(this.t + Math.max(0, ms), resolve));
  }

  /**
   * Runs `fire` at `atMs` (or now, if that has passed). A time that is not a finite number is
   * refused (RangeError): a NaN timer would never be due and never pass, and runUntil would
   * never end.
   */
  at(atMs: number, fire: () => void): void {
    if (!Number.isFinite(atMs)) throw new RangeError(`SimClock: not a time: ${atMs}`);
    this.push({ at: Math.max(this.t, atMs), seq: this.seq++, fire });
  }

  pending(): number {
    return this.heap.length;
  }

  nextAt(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Runs every timer due up to `target` (those the fired ones set included), then sets t. */
  async runUntil(target: number, onTurn?: (t: number) => void): Promise<void> {
    if (!Number.isFinite(target)) throw new RangeError(`SimClock: not a time: ${target}`);
    await rest(0);
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > target) break;
      this.t = next.at;
      // Every timer of this instant, then one turn of the event loop for what they started.
      while (this.heap[0] && this.heap[0].at === this.t) this.pop()!.fire();
      this.turns++;
      await rest(this.turns);
      onTurn?.(this.t);
    }
    this.t = Math.max(this.t, target);
  }

  private push(item: { at: number; seq: number; fire: () => void }) {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop() {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: { at: number; seq: number }, b: { at: number; seq: number }) {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Runs `fn` once every pending promise reaction has run. Node's process.nextTick does, without a
 * turn of the event loop: ticks queued from a microtask run when the microtask queue is empty
 * (processTicksAndRejections drains microtasks, then ticks, until both are empty). A turn per
 * simulated instant (a poll of the event loop) was about a quarter of a replay's time. What runs
 * under the clock is promises only (the core gate: core code is typed without Node's APIs); a
 * chain that waited on a nextTick of its own could resume after the clock moved on. Elsewhere
 * (the core is also type-checked for browsers) a macrotask. Captured once, at load, so a test
 * that fakes the global timers cannot stop simulated time.
 */
const afterMicrotasks: (fn: () => void) => void =
  (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process?.nextTick ??
  macrotask;

const setImmediateAtLoad = (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate;
const setTimeoutAtLoad = setTimeout;

/** A turn of the event loop: Node's setImmediate, or a zero timeout where there is none. */
function macrotask(fn: () => void): void {
  if (setImmediateAtLoad) setImmediateAtLoad(fn);
  else setTimeoutAtLoad(fn, 0);
}

/**
 * Every pending promise reaction runs first (and what they start, until all are at rest). Every
 * so many instants a turn of the event loop as well, so a long replay never holds it (I/O,
 * timers, a progress bar) for more than a moment.
 */
function rest(turn: number): Promise<void> {
  return new Promise((resolve) =>
    turn % INSTANTS_PER_LOOP_TURN === 0 ? macrotask(resolve) : afterMicrotasks(resolve),
  );
}

/** Simulated instants between two turns of the event loop (a few milliseconds of work). */
const INSTANTS_PER_LOOP_TURN = 256;

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
