import { fuzzCallables } from './fuzz';

// The fuzz is split over two files so that both test workers share it (see fuzz.ts).
fuzzCallables([
  'getStatus',
  'getCollectionStatus',
  'listCollections',
  'listAuditLog',
  'getQuotaStats',
  'getRecentWarnings',
  'getRealtimeSalesSummary',
  'getValidationReport',
  'exportBackup',
  'simulatePolicy',
  'setCategoryAllocation',
  'setFlags',
  'setUserRole',
]);
