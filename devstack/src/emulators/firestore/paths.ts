import { invalid } from './grpc.ts';
import { checkSegments } from './limits.ts';

/** Resource names: `projects/{p}/databases/{d}/documents[/{collection}/{id}...]`. */
export interface ResourceName {
  /** `projects/{p}/databases/{d}/documents` */
  root: string;
  project: string;
  database: string;
  /** Path segments below the root, e.g. ["users", "u1"]. */
  segments: string[];
}

export function parseName(name: string): ResourceName {
  const parts = name.split('/');
  if (
    parts[0] !== 'projects' ||
    !parts[1] ||
    parts[2] !== 'databases' ||
    !parts[3] ||
    parts[4] !== 'documents'
  ) {
    throw invalid(`invalid resource name: "${name}"`);
  }
  const segments = parts.slice(5);
  if (segments.some((s) => s === '')) throw invalid(`invalid resource name: "${name}"`);
  const root = parts.slice(0, 5).join('/');
  // Production's refusals of `.`/`..`, reserved `__x__` and over-long ids, reads included.
  checkSegments(name, segments, root.length + 1);
  return {
    root,
    project: parts[1],
    database: parts[3],
    segments,
  };
}

/** A document name: an even, non-zero number of segments below the root. */
export function parseDocumentName(name: string): ResourceName {
  const parsed = parseName(name);
  if (parsed.segments.length === 0 || parsed.segments.length % 2 !== 0) {
    throw invalid(`"${name}" is not a document name`);
  }
  return parsed;
}

/** A parent of collections: the database root or a document. */
export function parseParentName(name: string): ResourceName {
  const parsed = parseName(name);
  if (parsed.segments.length % 2 !== 0) throw invalid(`"${name}" is not a document or root name`);
  return parsed;
}

export function databaseRoot(project: string, database: string): string {
  return `projects/${project}/databases/${database}/documents`;
}
