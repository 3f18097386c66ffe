/**
 * The token line: a token bucket (capacity C, refill r per second) seen as numbered tokens.
 * Token n is minted at n / r seconds since the epoch and expires C / r seconds later, so at
 * any instant exactly C tokens are valid (the full bucket). Whoever spends only valid tokens,
 * each at most once, can never exceed the bucket's bound: in any interval of length T at most
 * C + r*T tokens are valid at some point in it. That lets many instances share one bucket by
 * owning disjoint blocks of tokens, claimed once, instead of updating one hot counter.
 */
export interface TokenLine {
  /** Tokens valid at once: the bucket capacity (or its burst threshold, if lower). */
  capacity: number;
  /** Tokens minted per second. */
  ratePerSecond: number;
  /**
   * When token 0 is minted. 0 (the Unix epoch) means the bucket is full from the start; an
   * allocation change starts a new line at the time of the change, empty, so the old line's
   * still-valid tokens and the new line's can never add up to more than the bound.
   */
  originMs?: number;
  /** No token is minted from this instant on: the line was replaced by a new allocation. */
  endMs?: number;
  /**
   * The first token that may be spent. A line that replaces another starts at token 1: the old
   * line's last mint and a new token 0 at the same instant would add one token to the bound.
   */
  firstToken?: number;
}

function unboundedFrontier(line: TokenLine, atMs: number): number {
  return Math.floor(((atMs - (line.originMs ?? 0)) * line.ratePerSecond) / 1000);
}

/** Index of the newest token minted at or before `atMs`. */
export function frontier(line: TokenLine, atMs: number): number {
  const at = line.endMs === undefined ? atMs : Math.min(atMs, line.endMs - 1);
  return unboundedFrontier(line, at);
}

/**
 * Tokens a token stays valid for. Tokens mint at discrete instants, so an interval of length T
 * can see up to r*T + 1 of them minted: keeping C - 1 valid (not C) makes the bound exact
 * against a bucket that refills continuously.
 */
export function validSpan(line: TokenLine): number {
  return Math.max(0, Math.floor(line.capacity) - 1);
}

/** Index of the oldest token still valid at `atMs`: valid tokens are (frontier - span, frontier]. */
export function oldestValid(line: TokenLine, atMs: number): number {
  return Math.max(line.firstToken ?? 0, unboundedFrontier(line, atMs) - validSpan(line) + 1);
}

/** When token n is minted (ms since the epoch), rounded up so it is never spent early. */
export function mintTimeMs(line: TokenLine, n: number): number {
  let at = (line.originMs ?? 0) + Math.ceil((n * 1000) / line.ratePerSecond);
  while (unboundedFrontier(line, at) < n) at++; // floating-point rounding must never mint early
  return at;
}

/** The first instant token n is no longer valid. */
/** Mint times ignore `endMs`: a token past the end is never owned, so never asked about. */
export function expiryTimeMs(line: TokenLine, n: number): number {
  return mintTimeMs(line, n + validSpan(line));
}

export interface Block {
  index: number;
  /** First token (inclusive). */
  start: number;
  /** One past the last token. */
  end: number;
}

export function blockRange(index: number, size: number): Block {
  return { index, start: index * size, end: (index + 1) * size };
}

export function blockOf(n: number, size: number): number {
  return Math.floor(n / size);
}
