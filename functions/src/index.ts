/**
 * The deploy surface: every exported name is a Cloud Function. Logic lives in entry/,
 * adapters/ and core/.
 */

export { scheduledBackup } from './entry/backup/scheduled-backup';
export { diagnostics } from './entry/observability/diagnostics';
export { health } from './entry/observability/health';
export { heartbeat } from './entry/observability/heartbeat';
export { metrics } from './entry/observability/metrics';
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
} from './entry/operations/callables';
export { aggregationFlush } from './entry/pipeline/aggregation';
export { realtimeSalesSync } from './entry/pipeline/autosync';
export { collectionBatches } from './entry/pipeline/batches';
export { keepaIngest } from './entry/pipeline/ingest';
export { keepaWork, smartproxyWork } from './entry/pipeline/work-queues';
export { allocationUpdate } from './entry/quota/allocation-update';
export { payloadCleanup } from './entry/storage/payload-cleanup';
export { dataValidation } from './entry/validation/data-validation';
