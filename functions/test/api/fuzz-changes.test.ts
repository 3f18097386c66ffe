import { fuzzCallables } from './fuzz';

// The fuzz is split over two files so that both test workers share it (see fuzz.ts).
fuzzCallables([
  'startCollection',
  'restartCollection',
  'pauseCategory',
  'resumeCategory',
  'clearCooldown',
  'startCooldown',
  'setProviderLimits',
  'setMaintenanceMode',
  'validateData',
  'forceFlush',
  'refreshRealtimeSales',
  'importBackup',
  'purgeProviderQueues',
]);
