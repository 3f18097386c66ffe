import {
  blockOf,
  expiryTimeMs,
  frontier,
  mintTimeMs,
  oldestValid,
  type TokenLine,
  validSpan,
} from './token-line';
import { nextWindow, type WindowUnit, windowAt } from './windows';

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
  mintMs(block: OwnedBlock, n: number): number;
  /** When token n of the block stops being spendable. */
  expiryMs(block: OwnedBlock, n: number): number;
  /** Blocks with tokens spendable now or within the horizon, soonest first; lazily. */
  candidates(atMs: number, horizonMs: number): Iterable<BlockRef>;
}

export function lineSource(line: TokenLine, blockSize: number): TokenSource {
  const size = Math.max(1, Math.floor(blockSize));
  return {
    maxCost: () => validSpan(line),
    spendable: (block, atMs) => ({
      start: Math.max(block.cursor, oldestValid(line, atMs)),
      end: Math.min(block.end, frontier(line, atMs) + 1),
    }),
    mintMs: (_block, n) => mintTimeMs(line, n),
    expiryMs: (_block, n) => expiryTimeMs(line, n),
    candidates: function* (atMs, horizonMs) {
      const first = blockOf(oldestValid(line, atMs), size);
      const last = blockOf(frontier(line, atMs + horizonMs), size);
      const origin = line.originMs ?? 0;
      const pageSize = size * PAGE_BLOCKS;
      for (let k = first; k <= last; k++) {
        const j = Math.floor(k / PAGE_BLOCKS);
        yield {
          id: `${origin}-${k}`,
          start: k * size,
          end: (k + 1) * size,
          expiresAtMs: expiryTimeMs(line, (k + 1) * size - 1),
          page: {
            id: `${origin}-p${j}`,
            start: j * pageSize,
            end: (j + 1) * pageSize,
            expiresAtMs: expiryTimeMs(line, (j + 1) * pageSize - 1),
          },
        };
      }
    },
  };
}

/** Blocks per window when the limit does not say: 25 whole pages spend a window. */
const DEFAULT_BLOCKS_PER_WINDOW = 200;

/**
 * A window's allowance depends on the share in force when the window began, so every instance
 * computes the same blocks for it.
 */
export function windowSource(
  unit: WindowUnit,
  allowanceFor: (windowStartMs: number) => number,
  blockTokens?: number,
): TokenSource {
  const sizeFor = (allowance: number) =>
    Math.max(
      1,
      Math.min(blockTokens ?? Math.ceil(allowance / DEFAULT_BLOCKS_PER_WINDOW), allowance),
    );
  const inWindow = (block: OwnedBlock, atMs: number) =>
    atMs >= (block.validFromMs ?? 0) && atMs < (block.validUntilMs ?? Number.POSITIVE_INFINITY);
  return {
    maxCost: (atMs) => Math.floor(allowanceFor(windowAt(unit, atMs).startMs)),
    spendable: (block, atMs) =>
      inWindow(block, atMs) ? { start: block.cursor, end: block.end } : { start: 0, end: 0 },
    mintMs: (block, _n) => block.validFromMs ?? 0,
    expiryMs: (block, _n) => block.validUntilMs ?? Number.POSITIVE_INFINITY,
    candidates: function* (atMs, horizonMs) {
      for (
        let window = windowAt(unit, atMs);
        window.startMs <= atMs + horizonMs;
        window = nextWindow(unit, window)
      ) {
        const total = Math.floor(allowanceFor(window.startMs));
        const size = sizeFor(total);
        const pageSize = size * PAGE_BLOCKS;
        const prefix = `${window.id}-${total}x${size}`;
        const validity = {
          validFromMs: window.startMs,
          validUntilMs: window.endMs,
          expiresAtMs: window.endMs,
        };
        for (let start = 0; start < total; start += size) {
          const j = Math.floor(start / pageSize);
          yield {
            id: `${prefix}-${start / size}`,
            start,
            end: Math.min(start + size, total),
            ...validity,
            page: {
              id: `${prefix}-p${j}`,
              start: j * pageSize,
              end: Math.min((j + 1) * pageSize, total),
              ...validity,
            },
          };
        }
      }
    },
  };
}
