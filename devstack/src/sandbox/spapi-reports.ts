import { gzipSync } from 'node:zlib';
import { type Answer, json, s3Error, spApiErrors } from './spapi-answers.ts';
import { isoSeconds, sandboxSalesRows } from './spapi-sales.ts';
import { type SpApiSandboxState, VENDOR_REAL_TIME_SALES_REPORT } from './spapi-types.ts';

/**
 * The sandbox's Reports API 2021-06-30: creating a report, its status while it is processed,
 * its document, and the gzipped report the document's URL serves.
 */

const URL_TTL_MS = 5 * 60_000;

interface Report {
  reportId: string;
  reportType: string;
  marketplaceIds: string[];
  dataStartMs: number;
  dataEndMs: number;
  createdMs: number;
  outcome: 'DONE' | 'CANCELLED' | 'FATAL' | 'STUCK';
  reportDocumentId?: string;
}

export interface SandboxReportsOptions {
  now: () => number;
  seed: string | number;
  asins: readonly string[];
  /** From request to DONE. */
  processingMs: number;
  /** How reports requested now end (misbehave sets it). */
  reportOutcome: () => SpApiSandboxState['reportOutcome'];
  /** The sandbox's URL, known once it listens: where the document URLs point. */
  baseUrl: () => string;
}

/** One sandbox's reports: the Reports API operations, the download, and how many were created. */
export function sandboxReports({
  now,
  seed,
  asins,
  processingMs,
  reportOutcome,
  baseUrl,
}: SandboxReportsOptions) {
  const reports = new Map<string, Report>();
  const documents = new Map<string, Report>();

  const statusOf = (report: Report) => {
    const elapsed = now() - report.createdMs;
    if (report.outcome === 'STUCK') return elapsed >= processingMs / 2 ? 'IN_PROGRESS' : 'IN_QUEUE';
    if (elapsed >= processingMs) return report.outcome;
    return elapsed >= processingMs / 2 ? 'IN_PROGRESS' : 'IN_QUEUE';
  };

  const reportJson = (report: Report) => {
    const status = statusOf(report);
    const terminal = status === 'DONE' || status === 'CANCELLED' || status === 'FATAL';
    return {
      reportId: report.reportId,
      reportType: report.reportType,
      dataStartTime: new Date(report.dataStartMs).toISOString(),
      dataEndTime: new Date(report.dataEndMs).toISOString(),
      marketplaceIds: report.marketplaceIds,
      createdTime: new Date(report.createdMs).toISOString(),
      processingStatus: status,
      ...(status !== 'IN_QUEUE'
        ? { processingStartTime: new Date(report.createdMs + processingMs / 2).toISOString() }
        : {}),
      ...(terminal
        ? { processingEndTime: new Date(report.createdMs + processingMs).toISOString() }
        : {}),
      ...(status === 'DONE' ? { reportDocumentId: report.reportDocumentId } : {}),
    };
  };

  const invalidInput = (message: string) => json(400, spApiErrors('InvalidInput', message));
  const notFound = (message: string) => json(404, spApiErrors('NotFound', message));

  const createReport = (raw: string): Answer => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return invalidInput('The request body is not valid JSON.');
    }
    if (body === null || typeof body !== 'object') return invalidInput('Expected an object.');
    const { reportType, dataStartTime, dataEndTime, marketplaceIds } = body;
    if (reportType !== VENDOR_REAL_TIME_SALES_REPORT) {
      return invalidInput(
        `Invalid reportType: ${String(reportType)} (the sandbox serves ${VENDOR_REAL_TIME_SALES_REPORT}).`,
      );
    }
    if (
      !Array.isArray(marketplaceIds) ||
      marketplaceIds.length === 0 ||
      !marketplaceIds.every((m) => typeof m === 'string' && m.length > 0)
    ) {
      return invalidInput('marketplaceIds must list at least one marketplace.');
    }
    const start = typeof dataStartTime === 'string' ? Date.parse(dataStartTime) : Number.NaN;
    const end = typeof dataEndTime === 'string' ? Date.parse(dataEndTime) : Number.NaN;
    if (Number.isNaN(start) || Number.isNaN(end)) {
      return invalidInput('dataStartTime and dataEndTime must be ISO 8601 date-times.');
    }
    if (end <= start) return invalidInput('dataEndTime must be after dataStartTime.');
    const createdMs = now();
    const reportId = String(50_000_000_000 + reports.size + 1);
    const hasData = sandboxSalesRows(seed, asins, start, end, createdMs).length > 0;
    const outcome =
      reportOutcome() === 'fatal'
        ? 'FATAL'
        : reportOutcome() === 'stuck'
          ? 'STUCK'
          : reportOutcome() === 'cancelled' || !hasData
            ? 'CANCELLED'
            : 'DONE';
    const report: Report = {
      reportId,
      reportType,
      marketplaceIds: marketplaceIds as string[],
      dataStartMs: start,
      dataEndMs: end,
      createdMs,
      outcome,
    };
    if (outcome === 'DONE') {
      report.reportDocumentId = `amzn1.spdoc.1.4.na.tollgate-sandbox.${reportId}`;
      documents.set(report.reportDocumentId, report);
    }
    reports.set(reportId, report);
    return json(202, { reportId });
  };

  const getReport = (id: string): Answer => {
    const report = reports.get(id);
    return report ? json(200, reportJson(report)) : notFound(`Report ${id} not found.`);
  };

  const getReportDocument = (id: string): Answer => {
    if (!documents.has(id)) return notFound(`Report document ${id} not found.`);
    const expires = now() + URL_TTL_MS;
    return json(200, {
      reportDocumentId: id,
      url: `${baseUrl()}/report-documents/${encodeURIComponent(id)}?X-Amz-Expires=300&expires=${expires}`,
      compressionAlgorithm: 'GZIP',
    });
  };

  const download = (id: string, url: URL): Answer => {
    const expires = Number(url.searchParams.get('expires'));
    if (!(expires >= now())) return s3Error(403, 'AccessDenied', 'Request has expired');
    const report = documents.get(id);
    if (!report) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
    const document = {
      reportSpecification: {
        reportType: report.reportType,
        reportOptions: { currencyCode: 'USD' },
        dataStartTime: isoSeconds(report.dataStartMs),
        dataEndTime: isoSeconds(report.dataEndMs),
        marketplaceIds: report.marketplaceIds,
      },
      reportData: sandboxSalesRows(
        seed,
        asins,
        report.dataStartMs,
        report.dataEndMs,
        report.createdMs,
      ),
    };
    return {
      status: 200,
      body: gzipSync(JSON.stringify(document)),
      headers: { 'content-type': 'application/octet-stream' },
    };
  };

  return {
    createReport,
    getReport,
    getReportDocument,
    download,
    reportsCreated: () => reports.size,
  };
}
