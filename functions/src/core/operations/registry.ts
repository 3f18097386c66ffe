import type { z } from 'zod';
import {
  purgeProviderQueuesInput,
  setFlagsInput,
  setMaintenanceModeInput,
  setProviderLimitsInput,
} from './configuration-inputs';
import {
  exportBackupInput,
  forceFlushInput,
  getQuotaStatsInput,
  getRealtimeSalesSummaryInput,
  getRecentWarningsInput,
  getValidationReportInput,
  importBackupInput,
  refreshRealtimeSalesInput,
  simulatePolicyInput,
  validateDataInput,
} from './data-inputs';
import type {
  ExportBackupResult,
  ForceFlushResult,
  QuotaStatsResult,
  RealtimeSalesSummaryResult,
  RecentWarningsResult,
  RefreshRealtimeSalesResult,
  SimulatePolicyResult,
  ValidateDataResult,
  ValidationReportResult,
} from './data-results';
import {
  clearCooldownInput,
  getCollectionStatusInput,
  getStatusInput,
  listAuditLogInput,
  listCollectionsInput,
  pauseCategoryInput,
  restartCollectionInput,
  resumeCategoryInput,
  setCategoryAllocationInput,
  setUserRoleInput,
  startCollectionInput,
  startCooldownInput,
} from './inputs';
import type {
  ClearCooldownResult,
  ImportBackupResult,
  ListAuditLogResult,
  PauseCategoryResult,
  PurgeProviderQueuesResult,
  RestartCollectionResult,
  SetCategoryAllocationResult,
  SetFlagsResult,
  SetMaintenanceModeResult,
  SetProviderLimitsResult,
  SetUserRoleResult,
  StartCollectionResult,
  StartCooldownResult,
} from './results';
import type { Role } from './roles';
import type { CollectionStatusResult, ListCollectionsResult, StatusResult } from './status-results';

/**
 * Every callable of the API: the role it needs, whether it changes anything (and so writes an
 * audit entry), and its input schema. The entry layer, the typed client and the CLI all read
 * this one table.
 */

export interface CallableSpec<I extends z.ZodType = z.ZodType> {
  role: Role;
  /** Changes state (and writes an audit entry for each change). */
  mutates: boolean;
  input: I;
  summary: string;
  /**
   * Changes nothing but writes one audit entry per successful call (an export: who took which
   * data where).
   */
  auditsReads?: boolean;
}

/** A callable another part of the project builds; `input: null` until then. */
export interface CallableSlot {
  role: Role;
  mutates: boolean;
  input: null;
  summary: string;
}

function callable<I extends z.ZodType>(
  role: Role,
  mutates: boolean,
  input: I,
  summary: string,
  options: { auditsReads?: boolean } = {},
): CallableSpec<I> {
  return { role, mutates, input, summary, ...options };
}

export const callableRegistry = {
  getStatus: callable('viewer', false, getStatusInput, 'configuration, shares, usage, cooldowns'),
  getCollectionStatus: callable('viewer', false, getCollectionStatusInput, 'one collection'),
  listCollections: callable(
    'viewer',
    false,
    listCollectionsInput,
    'every collection (or one status): progress, phase, rate, ETA',
  ),
  listAuditLog: callable(
    'admin',
    false,
    listAuditLogInput,
    'the audit log, newest first: who changed what, before and after',
  ),
  getQuotaStats: callable('viewer', false, getQuotaStatsInput, 'usage per minute'),
  getRecentWarnings: callable('viewer', false, getRecentWarningsInput, 'Firestore self-quota'),
  startCollection: callable(
    'operator',
    true,
    startCollectionInput,
    'start, adjust targets, or restart a stalled one',
  ),
  restartCollection: callable(
    'operator',
    true,
    restartCollectionInput,
    'run a stalled collection again, its lost work re-issued',
  ),
  setCategoryAllocation: callable(
    'operator',
    true,
    setCategoryAllocationInput,
    'share, override, priority, minimum',
  ),
  pauseCategory: callable('operator', true, pauseCategoryInput, 'pause with its collections'),
  resumeCategory: callable('operator', true, resumeCategoryInput, 'resume with its collections'),
  clearCooldown: callable('operator', true, clearCooldownInput, "end a provider's cooldown"),
  startCooldown: callable('operator', true, startCooldownInput, 'start a cooldown by hand'),
  setProviderLimits: callable(
    'operator',
    true,
    setProviderLimitsInput,
    "a provider's limits, cooldowns, URLs and settings",
  ),
  setMaintenanceMode: callable('operator', true, setMaintenanceModeInput, 'stop all grants'),
  setFlags: callable('operator', true, setFlagsInput, 'flags and pipeline configuration'),
  validateData: callable(
    'operator',
    true,
    validateDataInput,
    'run data validation now (all, or one marketplace)',
  ),
  getValidationReport: callable(
    'viewer',
    false,
    getValidationReportInput,
    'data validation results: latest, history, failing products',
  ),
  forceFlush: callable('operator', true, forceFlushInput, 'write pending aggregates now'),
  setUserRole: callable('admin', true, setUserRoleInput, "set a user's role claim"),
  refreshRealtimeSales: callable(
    'operator',
    true,
    refreshRealtimeSalesInput,
    'sync real-time sales now',
  ),
  getRealtimeSalesSummary: callable(
    'viewer',
    false,
    getRealtimeSalesSummaryInput,
    'real-time sales summary (stored data only)',
  ),
  exportBackup: callable(
    'operator',
    false,
    exportBackupInput,
    'configuration and state to a Cloud Storage object (the audit log: admins only)',
    { auditsReads: true },
  ),
  importBackup: callable('admin', true, importBackupInput, 'restore a verified backup'),
  purgeProviderQueues: callable(
    'admin',
    true,
    purgeProviderQueuesInput,
    "drop every waiting task of a provider's queues",
  ),
  simulatePolicy: callable(
    'operator',
    false,
    simulatePolicyInput,
    'replay recorded demand under the current and a proposed policy',
  ),
} as const satisfies Record<string, CallableSpec | CallableSlot>;

export type Registry = typeof callableRegistry;
export type CallableName = keyof Registry;

/** The callables with an input schema (the others are slots). */
export type ImplementedCallable = {
  [N in CallableName]: Registry[N] extends CallableSpec ? N : never;
}[CallableName];

export type CallableInput<N extends ImplementedCallable> =
  Registry[N] extends CallableSpec<infer I> ? z.input<I> : never;
export type ParsedInput<N extends ImplementedCallable> =
  Registry[N] extends CallableSpec<infer I> ? z.output<I> : never;

/** What each callable answers (a slot's result is typed where it is built). */
export interface CallableResults {
  getStatus: StatusResult;
  getCollectionStatus: CollectionStatusResult;
  listCollections: ListCollectionsResult;
  listAuditLog: ListAuditLogResult;
  getQuotaStats: QuotaStatsResult;
  getRecentWarnings: RecentWarningsResult;
  startCollection: StartCollectionResult;
  restartCollection: RestartCollectionResult;
  setCategoryAllocation: SetCategoryAllocationResult;
  pauseCategory: PauseCategoryResult;
  resumeCategory: PauseCategoryResult;
  clearCooldown: ClearCooldownResult;
  startCooldown: StartCooldownResult;
  setProviderLimits: SetProviderLimitsResult;
  setMaintenanceMode: SetMaintenanceModeResult;
  setFlags: SetFlagsResult;
  validateData: ValidateDataResult;
  getValidationReport: ValidationReportResult;
  forceFlush: ForceFlushResult;
  setUserRole: SetUserRoleResult;
  refreshRealtimeSales: RefreshRealtimeSalesResult;
  getRealtimeSalesSummary: RealtimeSalesSummaryResult;
  exportBackup: ExportBackupResult;
  importBackup: ImportBackupResult;
  purgeProviderQueues: PurgeProviderQueuesResult;
  simulatePolicy: SimulatePolicyResult;
}
export type CallableResult<N extends CallableName> = CallableResults[N];

export const callableNames = Object.keys(callableRegistry) as CallableName[];

export function isImplemented(name: CallableName): name is ImplementedCallable {
  return callableRegistry[name].input !== null;
}

export const implementedCallables = callableNames.filter(isImplemented);

export function isCallableName(name: string): name is CallableName {
  return Object.hasOwn(callableRegistry, name);
}
