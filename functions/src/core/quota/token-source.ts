import {
  blockOf,
  expiryTimeMs,
  frontier,
  mintTimeMs,
  oldestValid,
  type TokenLine,
  validSpan,
} from './token-line';
import { nextWindow, type Window, type WindowUnit, windowAt } from './windows';

/** A block of tokens one instance owns: [start, end), with `cursor` the next unspent token. */
export interface OwnedBlock {
  id: string;
  start: number;
  end: number;
  cursor: number;
  /** Window blocks: the window the tokens belong to. */
  validFromMs?: number;
  validUntilMs?: number;
  expiresAtMs: number;
}

export interface BlockRef {
  id: string;
  start: number;
  end: number;
  validFromMs?: number;
  validUntilMs?: number;
  /** When the block's last token stops being valid: claim documents may expire then. */
  expiresAtMs: number;
  /**
   * The page the block belongs to. A page (PAGE_BLOCKS blocks) is claimed either whole by one
   * instance, or split, after which its blocks are claimed one by one: busy instances buy
   * many tokens with one write, idle ones take small blocks and strand little.
   */
  page?: BlockRef;
  /**
   * The block's place in its source's candidate order, for sources whose blocks keep their ids
   * and order for good (lines): a ledger skips the blocks before one it knows are all gone.
   */
  ordinal?: number;
}

/** What a run claims in one commit: single blocks (of split pages) and pages whole. */
export interface RunClaim {
  blocks: BlockRef[];
  pages: BlockRef[];
}

/** How claiming a whole page ended: this instance won it, found it split, or lost it. */
export type PageOutcome = 'won' | 'split' | 'taken';

/** The span of tokens whose given-back blocks a claim may take again. */
export interface ReturnWindow {
  startMs: number;
  endMs: number;
}

export const PAGE_BLOCKS = 8;

/**
 * Where a limit's tokens come from and when each can be spent. Token-bucket and per-operation
 * limits draw from a token line; fixed windows (per second ... per month) from each window's
 * allowance of `limit` tokens, valid only inside the window.
 */
export interface TokenSource {
  /** The most one call can ever be granted (at `atMs`). */
  maxCost(atMs: number): number;
  /** First spendable token index of the block at `atMs` and the bound (exclusive). */
  spendable(block: OwnedBlock, atMs: number): { start: number; end: number };
  /** When token n of the block becomes spendable. */
  mintMs(block: BlockValidity, n: number): number;
  /** When token n of the block stops being spendable. */
  expiryMs(block: BlockValidity, n: number): number;
  /** Tokens of the block not yet spent that are valid now or will be: what it can still pay. */
  unspent(block: OwnedBlock, atMs: number): { start: number; end: number };
  /**
   * Blocks with tokens spendable now or within the horizon, soonest first; lazily. Sources that
   * number their blocks (`ordinal`) start at `fromOrdinal` when it is given.
   */
  candidates(atMs: number, horizonMs: number, fromOrdinal?: number): Iterable<BlockRef>;
}

/** What mint and expiry times depend on besides the token: a window block's window. */
export type BlockValidity = Pick<BlockRef, 'validFromMs' | 'validUntilMs'>;

export function lineSource(line: TokenLine, blockSize: number): TokenSource {
  const size = Math.max(1, Math.floor(blockSize));
  return {
    maxCost: () => validSpan(line),
    spendable: (block, atMs) => ({
      start: Math.max(block.cursor, oldestValid(line, atMs)),
      end: Math.min(block.end, frontier(line, atMs) + 1),
    }),
    unspent: (block, atMs) => ({
      start: Math.max(block.cursor, oldestValid(line, atMs)),
      end: Math.min(block.end, frontier(line, Number.MAX_SAFE_INTEGER) + 1),
    }),
    mintMs: (_block, n) => mintTimeMs(line, n),
    expiryMs: (_block, n) => expiryTimeMs(line, n),
    candidates: function* (atMs, horizonMs, fromOrdinal) {
      const first = Math.max(blockOf(oldestValid(line, atMs), size), fromOrdinal ?? 0);
      const last = blockOf(frontier(line, atMs + horizonMs), size);
      const origin = line.originMs ?? 0;
      const pageSize = size * PAGE_BLOCKS;
      let page: BlockRef | undefined;
      for (let k = first; k <= last; k++) {
        const j = Math.floor(k / PAGE_BLOCKS);
        // One page object for its eight blocks (refs are never changed, only read).
        if (page?.start !== j * pageSize) {
          page = {
            id: `${origin}-p${j}`,
            start: j * pageSize,
            end: (j + 1) * pageSize,
            expiresAtMs: expiryTimeMs(line, (j + 1) * pageSize - 1),
          };
        }
        yield {
          id: `${origin}-${k}`,
          start: k * size,
          end: (k + 1) * size,
          expiresAtMs: expiryTimeMs(line, (k + 1) * size - 1),
          ordinal: k,
          page,
        };
      }
    },
  };
}

/** Windows a claim looks through, the current one included. */
const MAX_WINDOWS_AHEAD = 3;

/** Blocks per window when the limit does not say: 25 whole pages spend a window. */
const DEFAULT_BLOCKS_PER_WINDOW = 200;

/** The block size of a window whose allowance is `total` tokens. */
export function windowBlockSize(total: number, blockTokens: number | null | undefined): number {
  return Math.max(1, Math.min(blockTokens ?? Math.ceil(total / DEFAULT_BLOCKS_PER_WINDOW), total));
}

/**
 * A category's allowance in one window: `total` and `size` are fixed for the whole window (they
 * name its blocks); `usable` may be lower when the limit was lowered inside the window.
 */
export interface WindowAllowance {
  total: number;
  usable: number;
  size: number;
}

/**
 * Fixed windows (per second ... per month): each window's allowance, valid only inside it.
 * Tokens are spendable from `guardMs` after the window starts to `guardMs` before it ends, so
 * an instance whose clock is off by up to `guardMs` (or a call that reaches the upstream that
 * much later) still lands inside the upstream's window.
 */
export function windowSource(
  unit: WindowUnit,
  allowanceAt: (window: Window, atMs: number) => WindowAllowance,
  guardMs = 0,
): TokenSource {
  const opensAt = (block: { validFromMs?: number }) => (block.validFromMs ?? 0) + guardMs;
  const closesAt = (block: { validUntilMs?: number }) =>
    (block.validUntilMs ?? Number.POSITIVE_INFINITY) - guardMs;
  const inWindow = (block: OwnedBlock, atMs: number) =>
    atMs >= opensAt(block) && atMs < closesAt(block);
  return {
    maxCost: (atMs) => allowanceAt(windowAt(unit, atMs), atMs).usable,
    spendable: (block, atMs) =>
      inWindow(block, atMs) ? { start: block.cursor, end: block.end } : { start: 0, end: 0 },
    unspent: (block, atMs) =>
      atMs < closesAt(block) ? { start: block.cursor, end: block.end } : { start: 0, end: 0 },
    mintMs: (block, _n) => opensAt(block),
    expiryMs: (block, _n) => closesAt(block),
    candidates: function* (atMs, horizonMs) {
      // A few windows at most: far enough for "next window" answers, never a scan of a month of
      // empty seconds (a category with no allowance in a short window).
      let window = windowAt(unit, atMs);
      for (
        let n = 0;
        n < MAX_WINDOWS_AHEAD && window.startMs + guardMs <= atMs + horizonMs;
        n++, window = nextWindow(unit, window)
      ) {
        if (window.endMs - guardMs <= atMs) continue;
        const { total, usable, size } = allowanceAt(window, atMs);
        const pageSize = size * PAGE_BLOCKS;
        const prefix = `${window.id}-${total}x${size}`;
        const validity = {
          validFromMs: window.startMs,
          validUntilMs: window.endMs,
          expiresAtMs: window.endMs,
        };
        for (let start = 0; start < usable; start += size) {
          const j = Math.floor(start / pageSize);
          yield {
            id: `${prefix}-${start / size}`,
            start,
            end: Math.min(start + size, usable),
            ...validity,
            page: {
              id: `${prefix}-p${j}`,
              start: j * pageSize,
              end: Math.min((j + 1) * pageSize, usable),
              ...validity,
            },
          };
        }
      }
    },
  };
}
