/** Where the quota engine keeps its documents. */
export const QUOTA_COLLECTIONS = {
  blocks: 'quotaBlocks',
  allocations: 'quotaAllocations',
  cooldowns: 'cooldowns',
  cooldownHistory: 'cooldownHistory',
  slots: 'quotaSlots',
  meters: 'quotaMeters',
  /** Window tokens an idle or departing instance gave back for others to take. */
  returns: 'quotaReturns',
} as const;

/** Document ids may not contain '/'. */
export function docId(...parts: string[]): string {
  return parts.join('~').replace(/\//g, '_');
}

/** gRPC ALREADY_EXISTS, as firebase-admin reports a failed create(). */
export function isAlreadyExists(error: unknown): boolean {
  return (error as { code?: number }).code === 6;
}
