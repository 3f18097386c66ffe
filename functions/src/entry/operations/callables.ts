import { createCallables } from './define';
import { instanceDeps } from './deps';

/**
 * The operator/client API (see core/operations for roles, inputs and results). Every callable checks
 * the caller's role, validates its input and writes an audit entry with each change.
 */
export const {
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
} = createCallables(instanceDeps);
