import type { Document } from '@firestore-emulator/proto/dist/google/firestore/v1/document.js';
import type {
  BatchGetDocumentsRequest,
  BatchGetDocumentsResponse,
  GetDocumentRequest,
  ListCollectionIdsRequest,
  ListCollectionIdsResponse,
  ListDocumentsRequest,
  ListDocumentsResponse,
  ListenRequest,
  ListenResponse,
  RunAggregationQueryRequest,
  RunAggregationQueryResponse,
  RunQueryRequest,
  RunQueryResponse,
} from '@firestore-emulator/proto/dist/google/firestore/v1/firestore.js';
import type { FirestoreState } from '@firestore-emulator/server';
import type {
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
} from '@grpc/grpc-js';
import { aggregate } from './aggregate.ts';
import type { Engine, ReadContext, ReadSelector } from './engine.ts';
import { Code, invalid, RpcError, toStatus, unimplemented } from './grpc.ts';
import { checkCollectionId } from './limits.ts';
import { parseDocumentName, parseParentName } from './paths.ts';
import { runQuery } from './query.ts';
import { documentObject, maskOf, now, pb, serverStream, unary } from './rpc-handlers.ts';
import { compareStrings } from './values.ts';

/**
 * The read RPCs of the Firestore v1 service (service.ts adds the writes): gets, queries,
 * aggregations, listings and real-time listeners.
 */
export class FirestoreReadService {
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

  PartitionQuery(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
    unary(call, callback, () => {
      throw unimplemented('PartitionQuery is not supported by the embedded emulator');
    });
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
}
