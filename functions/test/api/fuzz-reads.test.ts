import { fuzzCallables } from './fuzz';

// The fuzz is split over two files so that both test workers share it (see fuzz.ts).
fuzzCallables([
  'getStatus',
  'getCollectionStatus',
  'getQuotaStats',
  'getRecentWarnings',
  'getRealtimeSalesSummary',
  'getValidationReport',
  'exportBackup',
  'setCategoryAllocation',
  'setFlags',
  'setUserRole',
]);
