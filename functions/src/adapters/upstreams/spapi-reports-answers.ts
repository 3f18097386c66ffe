import { z } from 'zod';
import { safeJson } from './http-json';
import { SPAPI_PROVIDER } from './spapi-calls';
import { UpstreamError } from './upstream-call';

/**
 * What the Reports API, and S3 serving its documents, answer: the report and document schemas,
 * a report that never completes, S3's throttle and SP-API's error bodies.
 */

export const processingStatuses = [
  'IN_QUEUE',
  'IN_PROGRESS',
  'DONE',
  'CANCELLED',
  'FATAL',
] as const;
export type ProcessingStatus = (typeof processingStatuses)[number];

const spApiErrorsSchema = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string().optional() }).loose()).min(1),
});

export const createReportResponseSchema = z.object({ reportId: z.string().min(1) });

export const reportSchema = z.object({
  reportId: z.string().min(1),
  reportType: z.string(),
  processingStatus: z.enum(processingStatuses),
  dataStartTime: z.string().optional(),
  dataEndTime: z.string().optional(),
  marketplaceIds: z.array(z.string()).optional(),
  createdTime: z.string(),
  processingStartTime: z.string().optional(),
  processingEndTime: z.string().optional(),
  reportDocumentId: z.string().min(1).optional(),
});
export type Report = z.infer<typeof reportSchema>;

export const reportDocumentSchema = z.object({
  reportDocumentId: z.string().min(1),
  url: z.url(),
  compressionAlgorithm: z.literal('GZIP').optional(),
});
export type ReportDocument = z.infer<typeof reportDocumentSchema>;

/** A report that ended FATAL (or never ended): there is nothing to download. */
export class ReportProcessingError extends UpstreamError {
  constructor(
    readonly reportId: string,
    readonly processingStatus: ProcessingStatus,
    message: string,
  ) {
    // FATAL is the upstream's verdict; a report still processing is out of time.
    super(SPAPI_PROVIDER, 'getReport', processingStatus === 'FATAL' ? 'http' : 'timeout', message);
    this.name = 'ReportProcessingError';
  }
}

/**
 * S3's throttle: `503 Slow Down` with an XML `<Error><Code>SlowDown</Code>…` body (Amazon S3 API
 * Reference, "Error responses": SlowDown, "Please reduce your request rate.", 503). A 503 with
 * another code (ServiceUnavailable) or none is a server fault.
 */
export function isS3SlowDown(status: number, body: string): boolean {
  return status === 503 && /<Code>\s*SlowDown\s*<\/Code>/.test(body);
}

/** `Code: message` from SP-API's `{errors: [...]}` body, if that is what it is. */
export function errorDetail(text: string): string | undefined {
  const parsed = safeJson(text, spApiErrorsSchema);
  const first = parsed?.errors[0];
  if (first) return first.message ? `${first.code}: ${first.message}` : first.code;
  return text ? text.slice(0, 120) : undefined;
}
