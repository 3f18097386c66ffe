import type {
  FirestoreState,
  FirestoreStateCollection,
  FirestoreStateDatabase,
  FirestoreStateDocument,
  FirestoreStateProject,
} from '@firestore-emulator/server';
import { emulatorPackage } from './package.ts';
import { parseDocumentName, parseParentName } from './paths.ts';
import { compareStrings, type Fields, type Value } from './values.ts';

/** A document as the engine sees it; times are commit-clock milliseconds (0 when missing). */
export interface DocState {
  name: string;
  exists: boolean;
  fields: Fields;
  createTime: number;
  updateTime: number;
}

export type DocVersion = Omit<DocState, 'name' | 'exists'>;

/**
 * The package's tree keeps its maps in TypeScript-private members; these views name the
 * members we read. Its own `Listen` implementation keeps working because we store documents
 * in the same tree, with field objects that answer `toV1ValueObject()` like its own classes.
 */
type StoredField = { toV1ValueObject(): unknown; toJSON(): unknown };
type StateView = { projects: Record<string, FirestoreStateProject> };
type ProjectView = { databases: Record<string, FirestoreStateDatabase> };
type ParentView = { collections: Record<string, FirestoreStateCollection> };
type CollectionView = { documents: Record<string, FirestoreStateDocument> };
type DocumentView = { fields: Record<string, StoredField> };
type CollectionParent = FirestoreStateDatabase | FirestoreStateDocument;

class StoredValue implements StoredField {
  constructor(readonly value: Value) {}
  toV1ValueObject(): Value {
    return this.value;
  }
  toJSON() {
    const [type, value] = Object.entries(this.value)[0] ?? ['null_value', null];
    return { type, value };
  }
}

// Field records are replaced on every write, so caching by record identity never goes stale.
const fieldsCache = new WeakMap<object, Fields>();

function readFields(doc: FirestoreStateDocument): Fields {
  const stored = (doc as unknown as DocumentView).fields;
  let fields = fieldsCache.get(stored);
  if (!fields) {
    fields = {};
    for (const [key, field] of Object.entries(stored)) {
      fields[key] = field.toV1ValueObject() as Value;
    }
    fieldsCache.set(stored, fields);
  }
  return fields;
}

const collectionsOf = (parent: CollectionParent) => (parent as unknown as ParentView).collections;
const documentsOf = (c: FirestoreStateCollection) => (c as unknown as CollectionView).documents;

/**
 * Adds a child to one of the tree's records in O(1). The package's own getters copy the whole
 * record through immer on every insert (seeding 5,000 documents took 13 s) and freeze it, so a
 * frozen record is copied once and then kept mutable.
 */
function insert<T>(owner: object, key: 'collections' | 'documents', id: string, child: T): T {
  const view = owner as Record<typeof key, Record<string, T>>;
  if (Object.isFrozen(view[key])) view[key] = { ...view[key] };
  // defineProperty: an id like `__proto__` is a key like any other, not the record's prototype.
  Object.defineProperty(view[key], id, {
    value: child,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return child;
}

/** A child by id: own keys only, so ids like `constructor` or `toString` find no built-in. */
function own<T>(record: Record<string, T>, id: string): T | undefined {
  return Object.hasOwn(record, id) ? record[id] : undefined;
}

function stateOf(doc: FirestoreStateDocument, name: string): DocState {
  const meta = doc.metadata;
  if (!meta.hasExist) return { name, exists: false, fields: {}, createTime: 0, updateTime: 0 };
  return {
    name,
    exists: true,
    fields: readFields(doc),
    createTime: meta.createdAt.getTime(),
    updateTime: meta.updatedAt.getTime(),
  };
}

export class Store {
  constructor(readonly state: FirestoreState) {}

  /** Reads without creating tree nodes (the package's getters create them on every call). */
  get(name: string): DocState {
    const doc = this.#find(name);
    return doc
      ? stateOf(doc, name)
      : { name, exists: false, fields: {}, createTime: 0, updateTime: 0 };
  }

  /** Stores a new version of a document (or deletes it) and tells listeners. */
  put(name: string, version: DocVersion | null): void {
    if (version === null) {
      const doc = this.#find(name);
      if (!doc?.metadata.hasExist) return;
      doc.metadata = { hasExist: false, createdAt: null, updatedAt: null };
      (doc as unknown as DocumentView).fields = {};
      this.state.emitter.emit('delete-document', { document: doc });
      return;
    }
    const doc = this.#ensure(name);
    const created = !doc.metadata.hasExist;
    const stored: Record<string, StoredField> = {};
    for (const [key, value] of Object.entries(version.fields)) stored[key] = new StoredValue(value);
    fieldsCache.set(stored, version.fields);
    (doc as unknown as DocumentView).fields = stored;
    doc.metadata = {
      hasExist: true,
      createdAt: new Date(version.createTime),
      updatedAt: new Date(version.updateTime),
    };
    this.state.emitter.emit(created ? 'create-document' : 'update-document', { document: doc });
  }

  /**
   * Documents of one collection in name order: existing ones, plus (with `withMissing`) those
   * that do not exist but have subcollections.
   */
  list(parent: string, collectionId: string, withMissing = false): DocState[] {
    const node = this.#findParent(parent);
    const collection = node ? own(collectionsOf(node), collectionId) : undefined;
    if (!collection) return [];
    const out: DocState[] = [];
    for (const [id, doc] of Object.entries(documentsOf(collection))) {
      if (doc.metadata.hasExist || (withMissing && doc.hasChild())) {
        out.push(stateOf(doc, `${parent}/${collectionId}/${id}`));
      }
    }
    return out.sort((a, b) => compareStrings(a.name, b.name));
  }

  /** Existing documents at any depth below `parent` in collections named `collectionId` ('' = any). */
  descendants(parent: string, collectionId: string): DocState[] {
    const out: DocState[] = [];
    const walk = (node: CollectionParent, path: string) => {
      for (const [cid, collection] of Object.entries(collectionsOf(node))) {
        for (const [id, doc] of Object.entries(documentsOf(collection))) {
          const name = `${path}/${cid}/${id}`;
          if (doc.metadata.hasExist && (collectionId === '' || cid === collectionId)) {
            out.push(stateOf(doc, name));
          }
          walk(doc, name);
        }
      }
    };
    const node = this.#findParent(parent);
    if (node) walk(node, parent);
    return out;
  }

  /** Ids of the collections directly below `parent` that hold at least one document. */
  collectionIds(parent: string): string[] {
    const node = this.#findParent(parent);
    if (!node) return [];
    return Object.entries(collectionsOf(node))
      .filter(([, c]) => c.hasChild())
      .map(([id]) => id)
      .sort(compareStrings);
  }

  /** Every database root that exists in the tree. */
  roots(): string[] {
    const out: string[] = [];
    for (const [p, project] of Object.entries((this.state as unknown as StateView).projects)) {
      for (const d of Object.keys((project as unknown as ProjectView).databases)) {
        out.push(`projects/${p}/databases/${d}/documents`);
      }
    }
    return out;
  }

  clear(): void {
    this.state.clear();
  }

  #findParent(name: string): CollectionParent | undefined {
    const { project, database, segments } = parseParentName(name);
    const projects = (this.state as unknown as StateView).projects;
    const db = (projects[project] as unknown as ProjectView | undefined)?.databases[database];
    if (!db) return undefined;
    let node: CollectionParent | undefined = db;
    for (let i = 0; node && i < segments.length; i += 2) {
      const collection: FirestoreStateCollection | undefined = own(
        collectionsOf(node),
        segments[i]!,
      );
      node = collection ? own(documentsOf(collection), segments[i + 1]!) : undefined;
    }
    return node;
  }

  /** The tree node of a document, for the package's Listen code (undefined if never written). */
  node(name: string): FirestoreStateDocument | undefined {
    return this.#find(name);
  }

  /** The tree node of a document, creating it and its ancestors as needed. */
  #ensure(name: string): FirestoreStateDocument {
    const { project, database, segments } = parseDocumentName(name);
    const emitter = this.state.emitter;
    const db = this.state.getProject(project).getDatabase(database);
    let parent: CollectionParent = db;
    let doc: FirestoreStateDocument | undefined;
    for (let i = 0; i < segments.length; i += 2) {
      const [cid, id] = [segments[i]!, segments[i + 1]!];
      const collection: FirestoreStateCollection =
        own(collectionsOf(parent), cid) ??
        insert(
          parent,
          'collections',
          cid,
          new emulatorPackage.FirestoreStateCollection(emitter, db, parent, cid, {}),
        );
      doc =
        own(documentsOf(collection), id) ??
        insert(
          collection,
          'documents',
          id,
          new emulatorPackage.FirestoreStateDocument(emitter, db, collection, id, {}, {}),
        );
      parent = doc;
    }
    return doc!;
  }

  #find(name: string): FirestoreStateDocument | undefined {
    const { root, segments } = parseDocumentName(name);
    const parentPath = [root, ...segments.slice(0, -2)].join('/');
    const parent = this.#findParent(parentPath);
    const collection = parent
      ? own(collectionsOf(parent), segments[segments.length - 2]!)
      : undefined;
    return collection ? own(documentsOf(collection), segments[segments.length - 1]!) : undefined;
  }
}
