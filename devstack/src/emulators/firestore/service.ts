import { randomBytes } from 'node:crypto';
import type { Document } from '@firestore-emulator/proto/dist/google/firestore/v1/document.js';
import type {
  BatchGetDocumentsRequest,
  BatchGetDocumentsResponse,
  BatchWriteRequest,
  BatchWriteResponse,
  BeginTransactionRequest,
  BeginTransactionResponse,
  CommitRequest,
  CommitResponse,
  CreateDocumentRequest,
  DeleteDocumentRequest,
  GetDocumentRequest,
  ListCollectionIdsRequest,
  ListCollectionIdsResponse,
  ListDocumentsRequest,
  ListDocumentsResponse,
  ListenRequest,
  ListenResponse,
  RollbackRequest,
  RunAggregationQueryRequest,
  RunAggregationQueryResponse,
  RunQueryRequest,
  RunQueryResponse,
  UpdateDocumentRequest,
} from '@firestore-emulator/proto/dist/google/firestore/v1/firestore.js';
import type { Write } from '@firestore-emulator/proto/dist/google/firestore/v1/write.js';
import type { Empty } from '@firestore-emulator/proto/dist/google/protobuf/empty.js';
import type { FirestoreState } from '@firestore-emulator/server';
import type {
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
} from '@grpc/grpc-js';
import { aggregate } from './aggregate.ts';
import { timestampFromMillis } from './clock.ts';
import type { Engine, ReadContext, ReadSelector } from './engine.ts';
import { type FieldPath, projectFields } from './fieldpath.ts';
import { Code, grpc, invalid, RpcError, toStatus, unimplemented } from './grpc.ts';
import { checkCollectionId, checkFieldPath } from './limits.ts';
import { documentProto, emptyProto, firestoreProto, writeProto } from './package.ts';
import { parseDocumentName, parseParentName } from './paths.ts';
import { runQuery } from './query.ts';
import type { DocState } from './store.ts';
import { compareStrings, fromProtoFields } from './values.ts';

// Message classes (values); the names above are their types.
const pb = { ...firestoreProto, ...documentProto, ...writeProto, ...emptyProto };

/** The wire shape of a stored document, optionally reduced to a field mask. */
function documentObject(doc: DocState, mask?: FieldPath[]) {
  return {
    name: doc.name,
    fields: mask ? projectFields(doc.fields, mask) : doc.fields,
    create_time: timestampFromMillis(doc.createTime),
    update_time: timestampFromMillis(doc.updateTime),
  };
}

const maskOf = (req: { has_mask: boolean; mask: { field_paths: string[] } }) =>
  req.has_mask
    ? req.mask.field_paths.map((path) => checkFieldPath(path, { allowName: true }))
    : undefined;

const now = () => timestampFromMillis(Date.now());

function unary<Req, Res>(
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>,
  handle: (req: Req) => Res | Promise<Res>,
): void {
  Promise.resolve()
    .then(() => handle(call.request))
    .then(
      (res) => callback(null, res),
      (err) => callback({ ...toStatus(err), name: 'Error' }, null),
    );
}

function serverStream<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  handle: (req: Req, send: (res: Res) => void) => Promise<void> | void,
): void {
  const send = (res: Res) => {
    if (!call.cancelled && call.writable) call.write(res);
  };
  // Headers first: the SDK's stream wrapper (retry-request) silently retries, with seconds of
  // backoff, any stream that fails before it saw a response, whatever the status code.
  call.sendMetadata(new grpc.Metadata());
  Promise.resolve()
    .then(() => handle(call.request, send))
    .then(
      () => call.end(),
      (err) => call.emit('error', toStatus(err)),
    );
}

/**
 * The Firestore v1 gRPC service over our engine. Every RPC is ours (the package's
 * FirestoreServiceV1Impl is not exported from its root and none of its methods would be kept),
 * except that Listen reuses the package's FirestoreState.v1Listen. Errors always become a gRPC
 * status; nothing is thrown into grpc-js or left as an unhandled rejection.
 */
export class FirestoreService {
  readonly #engine: Engine;
  readonly #state: FirestoreState;

  constructor(engine: Engine, state: FirestoreState) {
    this.#engine = engine;
    this.#state = state;
  }

  GetDocument(
    call: ServerUnaryCall<GetDocumentRequest, Document>,
    callback: sendUnaryData<Document>,
  ) {
    unary(call, callback, async (req) => {
      const ctx = this.#engine.openRead(req);
      const [doc] = await this.#engine.withRead(ctx, () =>
        this.#engine.getDocuments([req.name], ctx.tx),
      );
      if (!doc?.exists) throw new RpcError(Code.NOT_FOUND, `Document not found: ${req.name}`);
      return pb.Document.fromObject(documentObject(doc, maskOf(req)));
    });
  }

  BatchGetDocuments(
    call: ServerWritableStream<BatchGetDocumentsRequest, BatchGetDocumentsResponse>,
  ) {
    serverStream(call, async (req, send) => {
      const ctx = this.#openRead(call, req);
      const docs = await this.#engine.withRead(ctx, () =>
        this.#engine.getDocuments(req.documents, ctx.tx),
      );
      const mask = maskOf(req);
      const read_time = now();
      docs.forEach((doc, i) => {
        send(
          pb.BatchGetDocumentsResponse.fromObject({
            ...(doc.exists ? { found: documentObject(doc, mask) } : { missing: doc.name }),
            read_time,
            ...(i === 0 && ctx.started
              ? { transaction: this.#engine.transactions.idBytes(ctx.tx!) }
              : {}),
          }),
        );
      });
      if (docs.length === 0 && ctx.started) {
        send(
          pb.BatchGetDocumentsResponse.fromObject({
            read_time,
            transaction: this.#engine.transactions.idBytes(ctx.tx!),
          }),
        );
      }
    });
  }

  RunQuery(call: ServerWritableStream<RunQueryRequest, RunQueryResponse>) {
    serverStream(call, async (req, send) => {
      if (req.has_explain_options) throw unimplemented('query explain is not supported');
      const ctx = this.#openRead(call, req);
      const { docs, projection } = await this.#engine.withRead(ctx, () =>
        this.#engine.query(req.parent, req.structured_query, ctx.tx),
      );
      const read_time = now();
      const transaction = ctx.started ? this.#engine.transactions.idBytes(ctx.tx!) : undefined;
      docs.forEach((doc, i) => {
        send(
          pb.RunQueryResponse.fromObject({
            document: documentObject(doc, projection),
            read_time,
            ...(i === 0 && transaction ? { transaction } : {}),
          }),
        );
      });
      send(
        pb.RunQueryResponse.fromObject({
          read_time,
          done: true,
          ...(docs.length === 0 && transaction ? { transaction } : {}),
        }),
      );
    });
  }

  RunAggregationQuery(
    call: ServerWritableStream<RunAggregationQueryRequest, RunAggregationQueryResponse>,
  ) {
    serverStream(call, async (req, send) => {
      if (req.has_explain_options) throw unimplemented('query explain is not supported');
      const ctx = this.#openRead(call, req);
      const structured = req.structured_aggregation_query;
      const { docs } = await this.#engine.withRead(ctx, () =>
        this.#engine.query(req.parent, structured.structured_query, ctx.tx),
      );
      send(
        pb.RunAggregationQueryResponse.fromObject({
          result: { aggregate_fields: aggregate(docs, structured.aggregations) },
          read_time: now(),
          ...(ctx.started ? { transaction: this.#engine.transactions.idBytes(ctx.tx!) } : {}),
        }),
      );
    });
  }

  BeginTransaction(
    call: ServerUnaryCall<BeginTransactionRequest, BeginTransactionResponse>,
    callback: sendUnaryData<BeginTransactionResponse>,
  ) {
    unary(call, callback, (req) => {
      const tx = this.#engine.transactions.begin(req.has_options ? req.options : undefined);
      return pb.BeginTransactionResponse.fromObject({
        transaction: this.#engine.transactions.idBytes(tx),
      });
    });
  }

  Commit(
    call: ServerUnaryCall<CommitRequest, CommitResponse>,
    callback: sendUnaryData<CommitResponse>,
  ) {
    unary(call, callback, (req) => {
      const { commitMillis, results } = this.#engine.commit(req.writes, req.transaction);
      return pb.CommitResponse.fromObject({
        commit_time: timestampFromMillis(commitMillis),
        write_results: results,
      });
    });
  }

  Rollback(call: ServerUnaryCall<RollbackRequest, Empty>, callback: sendUnaryData<Empty>) {
    unary(call, callback, (req) => {
      this.#engine.rollback(req.transaction);
      return new pb.Empty();
    });
  }

  BatchWrite(
    call: ServerUnaryCall<BatchWriteRequest, BatchWriteResponse>,
    callback: sendUnaryData<BatchWriteResponse>,
  ) {
    unary(call, callback, (req) => {
      const outcomes = this.#engine.batchWrite(req.writes);
      return pb.BatchWriteResponse.fromObject({
        write_results: outcomes.map((o) => o.result ?? {}),
        status: outcomes.map((o) => ({ code: o.status.code, message: o.status.details })),
      });
    });
  }

  ListDocuments(
    call: ServerUnaryCall<ListDocumentsRequest, ListDocumentsResponse>,
    callback: sendUnaryData<ListDocumentsResponse>,
  ) {
    unary(call, callback, (req) => {
      parseParentName(req.parent);
      if (!req.collection_id) throw invalid('ListDocuments needs a collection id');
      checkCollectionId(req.collection_id);
      if (req.order_by && !/^__name__( asc)?$/i.test(req.order_by.trim())) {
        throw unimplemented('ListDocuments only supports ordering by __name__');
      }
      if (req.page_size < 0) throw invalid('page_size must not be negative');
      const after = req.page_token ? Buffer.from(req.page_token, 'base64url').toString() : '';
      const all = this.#engine.store.list(req.parent, req.collection_id, req.show_missing);
      const rest = after ? all.filter((d) => compareStrings(d.name, after) > 0) : all;
      const page = req.page_size > 0 ? rest.slice(0, req.page_size) : rest;
      const mask = maskOf(req);
      return pb.ListDocumentsResponse.fromObject({
        documents: page.map((d) => (d.exists ? documentObject(d, mask) : { name: d.name })),
        next_page_token:
          page.length < rest.length ? Buffer.from(page.at(-1)!.name).toString('base64url') : '',
      });
    });
  }

  ListCollectionIds(
    call: ServerUnaryCall<ListCollectionIdsRequest, ListCollectionIdsResponse>,
    callback: sendUnaryData<ListCollectionIdsResponse>,
  ) {
    unary(call, callback, (req) => {
      const ids = this.#engine.store.collectionIds(req.parent);
      const rest = req.page_token
        ? ids.filter((id) => compareStrings(id, req.page_token) > 0)
        : ids;
      const page = req.page_size > 0 ? rest.slice(0, req.page_size) : rest;
      return pb.ListCollectionIdsResponse.fromObject({
        collection_ids: page,
        next_page_token: page.length < rest.length ? page.at(-1)! : '',
      });
    });
  }

  CreateDocument(
    call: ServerUnaryCall<CreateDocumentRequest, Document>,
    callback: sendUnaryData<Document>,
  ) {
    unary(call, callback, (req) => {
      const id = req.document_id || randomBytes(15).toString('base64url').slice(0, 20);
      const name = `${req.parent}/${req.collection_id}/${id}`;
      return this.#writeAndRead(
        pb.Write.fromObject({
          update: { name, fields: fromProtoFields(req.document.fields) },
          current_document: { exists: false },
        }),
        req,
      );
    });
  }

  UpdateDocument(
    call: ServerUnaryCall<UpdateDocumentRequest, Document>,
    callback: sendUnaryData<Document>,
  ) {
    unary(call, callback, (req) =>
      this.#writeAndRead(
        new pb.Write({
          update: req.document,
          ...(req.has_update_mask ? { update_mask: req.update_mask } : {}),
          ...(req.has_current_document ? { current_document: req.current_document } : {}),
        }),
        req,
      ),
    );
  }

  DeleteDocument(
    call: ServerUnaryCall<DeleteDocumentRequest, Empty>,
    callback: sendUnaryData<Empty>,
  ) {
    unary(call, callback, (req) => {
      parseDocumentName(req.name);
      this.#engine.commit([
        new pb.Write({
          delete: req.name,
          ...(req.has_current_document ? { current_document: req.current_document } : {}),
        }),
      ]);
      return new pb.Empty();
    });
  }

  PartitionQuery(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
    unary(call, callback, () => {
      throw unimplemented('PartitionQuery is not supported by the embedded emulator');
    });
  }

  Write(call: ServerDuplexStream<unknown, unknown>) {
    call.on('error', () => {});
    call.emit('error', toStatus(unimplemented('the streaming Write RPC is not supported')));
  }

  /** Real-time listeners: the package's v1Listen, made safe against bad requests. */
  Listen(call: ServerDuplexStream<ListenRequest, ListenResponse>) {
    const onEnd = (handler: () => void) => {
      call.once('end', handler);
      call.once('cancelled', handler);
    };
    call.on('data', (req: ListenRequest) => {
      try {
        if (!req.has_add_target) return; // remove_target: the client ends the stream anyway
        const target = req.add_target;
        if (target.has_query) {
          runQuery(this.#engine.store, target.query.parent, target.query.structured_query);
        } else if (target.has_documents) {
          for (const name of target.documents.documents) parseDocumentName(name);
        } else {
          throw invalid('listen target needs a query or documents');
        }
        this.#state.v1Listen(
          req,
          (res) => {
            if (!call.cancelled && call.writable) call.write(res);
          },
          onEnd,
        );
      } catch (err) {
        call.emit('error', toStatus(err));
      }
    });
    call.on('end', () => call.end());
    call.on('error', () => {});
  }

  /** CreateDocument / UpdateDocument: commit one update, answer with the stored document. */
  /**
   * Opens the read's transaction context. A transaction started by a read whose call the client
   * cancels (say, while it waited for a lock) can never be committed or rolled back by anyone:
   * end it at once instead of letting its locks sit until the idle timeout.
   */
  #openRead(call: ServerWritableStream<unknown, unknown>, req: ReadSelector): ReadContext {
    const ctx = this.#engine.openRead(req);
    if (ctx.started) {
      // grpc-js also reports 'cancelled' after a normal finish, when the response is ended.
      call.once('cancelled', () => {
        if (!call.writableEnded)
          this.#engine.transactions.end(ctx.tx!, 'read cancelled by the client');
      });
    }
    return ctx;
  }

  #writeAndRead(write: Write, req: { has_mask: boolean; mask: { field_paths: string[] } }) {
    this.#engine.commit([write]);
    return pb.Document.fromObject(
      documentObject(this.#engine.store.get(write.update.name), maskOf(req)),
    );
  }
}
