/**
 * The deploy surface: every exported name is a Cloud Function. Logic lives in entry/,
 * adapters/ and core/.
 */

export { aggregationFlush } from './entry/aggregation';
export { diagnostics } from './entry/diagnostics';
export { health } from './entry/health';
export { heartbeat } from './entry/heartbeat';
export { keepaIngest } from './entry/ingest';
export { allocationUpdate, payloadCleanup } from './entry/schedules';
export { getStatus } from './entry/status';
export { dataValidation } from './entry/validation';
export { keepaWork, smartproxyWork, spapiWork } from './entry/work-queues';
