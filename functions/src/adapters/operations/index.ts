import type { CallableResult, ImplementedCallable, ParsedInput } from '../../core/operations';
import { pauseCategory, resumeCategory, setCategoryAllocation } from './allocations';
import { exportBackup, importBackup } from './backups';
import { getCollectionStatus, restartCollection, startCollection } from './collections';
import type { OperationContext } from './context';
import { clearCooldown, startCooldown } from './cooldowns';
import { setFlags, setMaintenanceMode } from './flags';
import { listAuditLog, listCollections } from './listings';
import { setProviderLimits } from './providers';
import { purgeProviderQueues } from './queues';
import { simulatePolicy } from './replay';
import { forceFlush, getValidationReport, validateData } from './runs';
import { getRealtimeSalesSummary, refreshRealtimeSales } from './sales';
import { getQuotaStats, getRecentWarnings } from './stats';
import { getStatus } from './status';
import { setUserRole } from './users';

export { AUDITED_BATCH_WRITES, auditedFirestore, writeAudit } from './audit';
export type { OperationContext, OperationDeps, UserDirectory } from './context';
export { manualValidationRunId } from './runs';
export { currentRole } from './users';

/** One operation per callable: the parsed input, and the raw one for "which keys were given". */
export type Operation<N extends ImplementedCallable> = (
  ctx: OperationContext,
  input: ParsedInput<N>,
  raw: unknown,
) => Promise<CallableResult<N>>;

export type Operations = { [N in ImplementedCallable]: Operation<N> };

export const operations: Operations = {
  getStatus,
  getCollectionStatus,
  listCollections,
  listAuditLog,
  getQuotaStats,
  getRecentWarnings,
  startCollection,
  restartCollection,
  setCategoryAllocation,
  pauseCategory,
  resumeCategory,
  clearCooldown,
  startCooldown,
  setProviderLimits,
  setMaintenanceMode,
  setFlags,
  validateData,
  getValidationReport,
  forceFlush,
  setUserRole,
  refreshRealtimeSales,
  getRealtimeSalesSummary,
  exportBackup,
  importBackup,
  purgeProviderQueues,
  simulatePolicy,
};
