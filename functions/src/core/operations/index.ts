/** The operator/client API: roles, input schemas, result types, the callable registry. */

export * from '../quota/share-cap';
export * from './audit';
export * from './call-cost';
export * from './configuration-inputs';
export * from './data-inputs';
export * from './data-results';
export * from './errors';
export * from './inputs';
export * from './registry';
export * from './results';
export * from './roles';
export * from './status-results';
export * from './timeouts';
