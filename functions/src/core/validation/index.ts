export * from './config';
export * from './report';
export * from './rules';
