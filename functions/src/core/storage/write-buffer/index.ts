export * from './demand-stats';
export * from './doc-update';
export * from './field-ops';
export * from './pending';
export * from './retry';
export * from './usage-stats';
