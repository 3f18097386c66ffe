import type { FirestoreState } from '@firestore-emulator/server';
import type { Server, UntypedServiceImplementation } from '@grpc/grpc-js';
import { Engine } from './engine.ts';
import { type FirestoreExport, fromExport, toExport } from './exportjson.ts';
import { grpc } from './grpc.ts';
import { emulatorPackage, firestoreProto, writeProto } from './package.ts';
import { runQuery } from './query.ts';
import { FirestoreService } from './service.ts';
import { Store } from './store.ts';

export type { ExportedDocument, FirestoreExport, JsonValue } from './exportjson.ts';

export interface FirestoreEmulator {
  host: string;
  port: number;
  /** "127.0.0.1:1234", the value for FIRESTORE_EMULATOR_HOST. */
  hostPort: string;
  /** Every existing document, JSON-serialisable with value types preserved. */
  exportJson(): FirestoreExport;
  /** Adds (or overwrites) the documents of an export; other documents stay. */
  importJson(data: FirestoreExport): void;
  clear(): void;
  stop(): Promise<void>;
}

export interface StartFirestoreOptions {
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** Serve the unmodified npm package (to show which fidelity tests fail without us). */
  raw?: boolean;
  seed?: FirestoreExport;
  /** A transaction idle this long is aborted and its locks released (default 30 s). */
  transactionIdleMillis?: number;
}

function bind(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}

function allDocuments(store: Store) {
  return store.roots().flatMap((root) => store.descendants(root, ''));
}

/** Starts the embedded Firestore emulator (gRPC, for FIRESTORE_EMULATOR_HOST). */
export async function startFirestore(opts: StartFirestoreOptions = {}): Promise<FirestoreEmulator> {
  const host = opts.host ?? '127.0.0.1';
  let server: Server;
  let state: FirestoreState;
  let importDocs: (data: FirestoreExport) => void;
  let shutdown = () => {};

  if (opts.raw) {
    // The package as published; its server is bound here because its own start() hides the port.
    const raw = new emulatorPackage.FirestoreServer();
    server = (raw as unknown as { server: Server }).server;
    state = raw.state;
    importDocs = (data) => {
      for (const doc of fromExport(data)) {
        const date = new Date(doc.updateTime ?? Date.now());
        state.writeV1Document(
          date,
          writeProto.Write.fromObject({ update: { name: doc.name, fields: doc.fields } }),
        );
      }
    };
  } else {
    state = new emulatorPackage.FirestoreState();
    (state.emitter as unknown as NodeJS.EventEmitter).setMaxListeners(0);
    const engine = new Engine(state, {
      transactionIdleMillis: opts.transactionIdleMillis ?? 30_000,
    });
    // Listen reuses the package's v1Listen, which calls v1Query: give it our query engine.
    state.v1Query = (parent, query) => {
      try {
        return runQuery(engine.store, parent, query).docs.flatMap(
          (d) => engine.store.node(d.name) ?? [],
        );
      } catch {
        return []; // checked when the listener was added; never throw into its event handlers
      }
    };
    server = new grpc.Server();
    server.addService(
      firestoreProto.UnimplementedFirestoreService.definition,
      new FirestoreService(engine, state) as unknown as UntypedServiceImplementation,
    );
    importDocs = (data) => {
      const now = engine.clock.next();
      for (const doc of fromExport(data)) {
        const updateTime = doc.updateTime ?? now;
        engine.store.put(doc.name, {
          fields: doc.fields,
          createTime: doc.createTime ?? updateTime,
          updateTime,
        });
        engine.clock.observe(updateTime);
      }
    };
    shutdown = () => engine.transactions.endAll('emulator stopped');
  }

  if (opts.seed) importDocs(opts.seed);
  const port = await bind(server, host, opts.port ?? 0);
  const store = new Store(state);

  return {
    host,
    port,
    hostPort: `${host}:${port}`,
    exportJson: () => toExport(allDocuments(store)),
    importJson: importDocs,
    clear: () => store.clear(),
    stop: async () => {
      shutdown();
      // Listen streams never finish on their own, so a graceful shutdown would wait forever.
      server.forceShutdown();
    },
  };
}
