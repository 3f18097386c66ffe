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
}

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
  /** Blocks with tokens spendable now or within the horizon, soonest first. */
  candidates(atMs: number, horizonMs: number): BlockRef[];
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
    candidates: (atMs, horizonMs) => {
      const first = blockOf(oldestValid(line, atMs), size);
      const last = blockOf(frontier(line, atMs + horizonMs), size);
      const refs: BlockRef[] = [];
      for (let k = first; k <= last; k++) {
        refs.push({
          id: `${line.originMs ?? 0}-${k}`,
          start: k * size,
          end: (k + 1) * size,
          expiresAtMs: expiryTimeMs(line, (k + 1) * size - 1),
        });
      }
      return refs;
    },
  };
}

/** Blocks per window when the limit does not say: 50 claims spend a whole window. */
const DEFAULT_BLOCKS_PER_WINDOW = 50;

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
    candidates: (atMs, horizonMs) => {
      const refs: BlockRef[] = [];
      for (
        let window = windowAt(unit, atMs);
        window.startMs <= atMs + horizonMs;
        window = nextWindow(unit, window)
      ) {
        const total = Math.floor(allowanceFor(window.startMs));
        const size = sizeFor(total);
        for (let start = 0; start < total; start += size) {
          refs.push({
            id: `${window.id}-${total}x${size}-${start / size}`,
            start,
            end: Math.min(start + size, total),
            validFromMs: window.startMs,
            validUntilMs: window.endMs,
            expiresAtMs: window.endMs,
          });
        }
      }
      return refs;
    },
  };
}
