/**
 * The deploy surface: every exported name is a Cloud Function. Logic lives in entry/,
 * adapters/ and core/.
 */

export { aggregationFlush } from './entry/aggregation';
export { realtimeSalesSync } from './entry/autosync';
export { collectionBatches } from './entry/batches';
export {
  clearCooldown,
  exportBackup,
  forceFlush,
  getCollectionStatus,
  getQuotaStats,
  getRealtimeSalesSummary,
  getRecentWarnings,
  getStatus,
  getValidationReport,
  importBackup,
  listAuditLog,
  listCollections,
  pauseCategory,
  purgeProviderQueues,
  refreshRealtimeSales,
  restartCollection,
  resumeCategory,
  setCategoryAllocation,
  setFlags,
  setMaintenanceMode,
  setProviderLimits,
  setUserRole,
  simulatePolicy,
  startCollection,
  startCooldown,
  validateData,
} from './entry/callables';
export { diagnostics } from './entry/diagnostics';
export { health } from './entry/health';
export { heartbeat } from './entry/heartbeat';
export { keepaIngest } from './entry/ingest';
export { metrics } from './entry/metrics';
export { allocationUpdate, payloadCleanup, scheduledBackup } from './entry/schedules';
export { dataValidation } from './entry/validation';
export { keepaWork, smartproxyWork } from './entry/work-queues';
