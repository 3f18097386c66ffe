import { randomBytes } from 'node:crypto';
import type { Document } from '@firestore-emulator/proto/dist/google/firestore/v1/document.js';
import type {
  BatchWriteRequest,
  BatchWriteResponse,
  BeginTransactionRequest,
  BeginTransactionResponse,
  CommitRequest,
  CommitResponse,
  CreateDocumentRequest,
  DeleteDocumentRequest,
  RollbackRequest,
  UpdateDocumentRequest,
} from '@firestore-emulator/proto/dist/google/firestore/v1/firestore.js';
import type { Write } from '@firestore-emulator/proto/dist/google/firestore/v1/write.js';
import type { Empty } from '@firestore-emulator/proto/dist/google/protobuf/empty.js';
import type { FirestoreState } from '@firestore-emulator/server';
import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { timestampFromMillis } from './clock.ts';
import type { Engine } from './engine.ts';
import { toStatus, unimplemented } from './grpc.ts';
import { parseDocumentName } from './paths.ts';
import { FirestoreReadService } from './read-service.ts';
import { documentObject, maskOf, pb, unary } from './rpc-handlers.ts';
import { fromProtoFields } from './values.ts';

/**
 * The Firestore v1 gRPC service over our engine. Every RPC is ours (the package's
 * FirestoreServiceV1Impl is not exported from its root and none of its methods would be kept),
 * except that Listen reuses the package's FirestoreState.v1Listen. Errors always become a gRPC
 * status; nothing is thrown into grpc-js or left as an unhandled rejection. The read RPCs are
 * FirestoreReadService's (read-service.ts); the writes and transactions are here.
 */
export class FirestoreService extends FirestoreReadService {
  readonly #engine: Engine;

  constructor(engine: Engine, state: FirestoreState) {
    super(engine, state);
    this.#engine = engine;
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

  Write(call: ServerDuplexStream<unknown, unknown>) {
    call.on('error', () => {});
    call.emit('error', toStatus(unimplemented('the streaming Write RPC is not supported')));
  }

  /** CreateDocument / UpdateDocument: commit one update, answer with the stored document. */
  #writeAndRead(write: Write, req: { has_mask: boolean; mask: { field_paths: string[] } }) {
    this.#engine.commit([write]);
    return pb.Document.fromObject(
      documentObject(this.#engine.store.get(write.update.name), maskOf(req)),
    );
  }
}
