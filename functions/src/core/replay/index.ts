export * from './demand';
export * from './fleet-scale';
export * from './replay';
export * from './sim-clock';
export * from './sim-types';
export * from './simulator';
export * from './upstream-model';
export * from './work-queues';
