import type { DocumentData, Firestore } from 'firebase-admin/firestore';
import { BackupError } from '../../core/backup/backup-file';
import {
  type Category,
  ConfigError,
  categorySchema,
  flagsSchema,
  type Provider,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../core/config';
import { workProblems } from '../../core/pipeline/category-work';
import { collectionSchema } from '../../core/pipeline/collection-schema';
import { pipelineConfigSchema } from '../../core/pipeline/config';
import { introducedProblems, shareError } from '../../core/quota/share-check';
import { CONFIG_PATHS } from '../config-repository';
import { PIPELINE_CONFIG_PATH } from '../pipeline/pipeline-config';
import { parseWorkPipeline, readWorkSources } from '../pipeline/work-shares';
import type { PreparedWrite } from './backup-values';

/**
 * The configuration a restore would leave, checked before anything is written: each
 * configuration document of the backup against its schema, then the stored configuration with
 * the backup's over it against the rules between documents (checkConfiguration).
 */

export const where = (path: string) => `documents[${JSON.stringify(path)}]`;

/** The configuration documents a restore validates by schema (config/* by id). */
function configurationDocument(
  path: string,
): 'provider' | 'category' | 'flags' | 'pipeline' | undefined {
  const [collection, , ...rest] = path.split('/');
  if (rest.length > 0) return undefined;
  if (collection === CONFIG_PATHS.providers) return 'provider';
  if (collection === CONFIG_PATHS.categories) return 'category';
  if (path === CONFIG_PATHS.flags) return 'flags';
  if (path === PIPELINE_CONFIG_PATH) return 'pipeline';
  return undefined;
}

/** Whether a restore's audit entry keeps the document's values (configuration), not digests. */
export function isConfigurationPath(path: string): boolean {
  return configurationDocument(path) !== undefined;
}

/** ConfigError issues as backup issues, at the document in the file or the stored one. */
function configIssues(error: ConfigError, inBackup: ReadonlySet<string>): string[] {
  const at = inBackup.has(error.document)
    ? where(error.document)
    : `${error.document} (stored, not in the backup)`;
  return error.issues.map((i) => `${at}${i.path ? `.${i.path}` : ''}: ${i.message}`);
}

/** Runs `check`; a ConfigError becomes issues naming the document and field. */
function collectConfig(issues: string[], inBackup: ReadonlySet<string>, check: () => void) {
  try {
    check();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...configIssues(error, inBackup));
  }
}

const workCollectionSchema = collectionSchema.pick({
  provider: true,
  category: true,
  status: true,
  phase: true,
  phases: true,
});

/**
 * Every configuration document of the file against its schema, then the configuration as the
 * restore would leave it (the stored documents with the file's over them) against the rules no
 * single document can check: categories of existing providers, shares within 100% per provider,
 * and shares that carry their categories' work now and in later phases (only problems the
 * restore would introduce). Reads the stored configuration; writes nothing.
 */
export async function checkConfiguration(
  db: Firestore,
  writes: readonly PreparedWrite[],
): Promise<void> {
  const inBackup = new Set(writes.map((w) => w.path));
  const issues: string[] = [];
  const byPath = new Map(writes.map((w) => [w.path, w]));
  for (const w of writes) {
    const kind = configurationDocument(w.path);
    const id = w.path.split('/')[1]!;
    collectConfig(issues, inBackup, () => {
      if (kind === 'provider') parseDocument(providerSchema, w.path, { id, ...w.data });
      else if (kind === 'category') parseDocument(categorySchema, w.path, { id, ...w.data });
      else if (kind === 'flags') parseDocument(flagsSchema, w.path, w.data);
      else if (kind === 'pipeline') parseDocument(pipelineConfigSchema, w.path, w.data);
    });
  }
  if (issues.length > 0) throw configError(issues);

  const [providerDocs, categoryDocs, flagsDoc, pipelineDoc, sources] = await Promise.all([
    db.collection(CONFIG_PATHS.providers).get(),
    db.collection(CONFIG_PATHS.categories).get(),
    db.doc(CONFIG_PATHS.flags).get(),
    db.doc(PIPELINE_CONFIG_PATH).get(),
    readWorkSources(db),
  ]);
  /** The stored documents of a collection with the file's over them. */
  const merged = (stored: FirebaseFirestore.QuerySnapshot, collection: string) => {
    const out = new Map<string, DocumentData>();
    for (const doc of stored.docs) out.set(doc.id, doc.data());
    for (const w of writes) {
      const [c, id, ...rest] = w.path.split('/');
      if (c === collection && rest.length === 0) out.set(id!, w.data);
    }
    return out;
  };
  const parseAll = <T>(
    docs: Map<string, DocumentData>,
    collection: string,
    parse: (path: string, data: DocumentData) => T,
  ): T[] => {
    const out: T[] = [];
    for (const [id, data] of docs) {
      const path = `${collection}/${id}`;
      collectConfig(issues, inBackup, () => out.push(parse(path, { id, ...data })));
    }
    return out;
  };
  const providers = parseAll(
    merged(providerDocs, CONFIG_PATHS.providers),
    CONFIG_PATHS.providers,
    (path, data): Provider => parseDocument(providerSchema, path, data),
  );
  const categories = parseAll(
    merged(categoryDocs, CONFIG_PATHS.categories),
    CONFIG_PATHS.categories,
    (path, data): Category => parseDocument(categorySchema, path, data),
  );
  const flagsData = byPath.get(CONFIG_PATHS.flags)?.data ?? flagsDoc.data() ?? {};
  let flags = flagsSchema.parse({});
  collectConfig(issues, inBackup, () => {
    flags = parseDocument(flagsSchema, CONFIG_PATHS.flags, flagsData);
  });
  const pipelineData = byPath.get(PIPELINE_CONFIG_PATH)?.data ?? pipelineDoc.data() ?? {};
  collectConfig(issues, inBackup, () => {
    parseDocument(pipelineConfigSchema, PIPELINE_CONFIG_PATH, pipelineData);
  });
  if (issues.length > 0) throw configError(issues);
  collectConfig(issues, inBackup, () => validateRuntimeConfig({ providers, categories, flags }));
  if (issues.length > 0) throw configError(issues);

  // Shares that cannot carry their work: only what the restore would introduce. Problems the
  // project already had, or the backup's own configuration had where it was taken, are not
  // the restore's (operators' changes are judged the same way).
  collectConfig(issues, inBackup, () => {
    const parsedOr = <T>(parse: () => T): T[] => {
      try {
        return [parse()];
      } catch {
        return [];
      }
    };
    const workPipeline = (data: DocumentData | undefined) =>
      parsedOr(() => parseWorkPipeline(data))[0] ?? parseWorkPipeline(undefined);
    const workCollections = (docs: Iterable<[string, DocumentData]>) =>
      [...docs].flatMap(([id, data]) => {
        const parsed = workCollectionSchema.safeParse(data);
        return parsed.success ? [{ id, ...parsed.data }] : [];
      });
    const own = (collection: string) =>
      writes.flatMap((w): Array<[string, DocumentData]> => {
        const [c, id, ...rest] = w.path.split('/');
        return c === collection && rest.length === 0 ? [[id!, w.data]] : [];
      });
    const stored = {
      providers: providerDocs.docs.flatMap((d) =>
        parsedOr(() => parseDocument(providerSchema, d.ref.path, { id: d.id, ...d.data() })),
      ),
      categories: categoryDocs.docs.flatMap((d) =>
        parsedOr(() => parseDocument(categorySchema, d.ref.path, { id: d.id, ...d.data() })),
      ),
      ...sources,
      ...workPipeline(pipelineDoc.data()),
    };
    const backupOnly = {
      providers: own(CONFIG_PATHS.providers).map(([id, data]) =>
        parseDocument(providerSchema, `providers/${id}`, { id, ...data }),
      ),
      categories: own(CONFIG_PATHS.categories).map(([id, data]) =>
        parseDocument(categorySchema, `categories/${id}`, { id, ...data }),
      ),
      collections: workCollections(own('collections')),
      ...workPipeline(byPath.get(PIPELINE_CONFIG_PATH)?.data),
    };
    const collections = new Map(sources.collections.map((c) => [c.id, c]));
    for (const [id, data] of own('collections')) {
      const [parsed] = workCollections([[id, data]]);
      if (parsed) collections.set(id, parsed);
      else collections.delete(id);
    }
    const after = {
      providers,
      categories,
      collections: [...collections.values()],
      ...workPipeline(pipelineData),
    };
    const options = { laterPhases: true };
    const known = [...workProblems(stored, options), ...workProblems(backupOnly, options)];
    const introduced = introducedProblems(known, workProblems(after, options));
    if (introduced.length > 0) throw shareError(introduced);
  });
  if (issues.length > 0) throw configError(issues);
}

function configError(issues: string[]): BackupError {
  return new BackupError(
    'config',
    `the configuration would not be valid: ${issues.slice(0, 5).join('; ')}`,
    issues,
  );
}
