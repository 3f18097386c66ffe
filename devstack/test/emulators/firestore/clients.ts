import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { getApps, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';

/**
 * Clients for the Firestore emulator named by FIRESTORE_EMULATOR_HOST (ours, the raw npm
 * package, or Google's), so the same tests run against each of them.
 */
export function db(): Firestore {
  const app =
    getApps()[0] ?? initializeApp({ projectId: process.env.GCLOUD_PROJECT ?? 'demo-tollgate' });
  return getFirestore(app);
}

/** A collection name no other test uses. */
export function freshCollection(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export const projectId = () => process.env.GCLOUD_PROJECT ?? 'demo-tollgate';
export const databaseRoot = () => `projects/${projectId()}/databases/(default)/documents`;

/** The gRPC status code of a rejected SDK call. */
export async function codeOf(promise: Promise<unknown>): Promise<number | string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: number }).code ?? String(err);
  }
  return 'resolved';
}

// The generated gRPC client and the grpc-js copy it was built against, loaded with require()
// like the emulator does (the package's ESM build does not load under Node).
const require = createRequire(import.meta.url);
const protoPath = require.resolve(
  '@firestore-emulator/proto/dist/google/firestore/v1/firestore.js',
);
const proto = require(
  protoPath,
) as typeof import('@firestore-emulator/proto/dist/google/firestore/v1/firestore.js');
const grpc = createRequire(protoPath)('@grpc/grpc-js') as typeof import('@grpc/grpc-js');

export type RawClient = InstanceType<typeof proto.FirestoreClient>;
type UnaryMethod = 'Commit' | 'ListDocuments' | 'PartitionQuery' | 'GetDocument' | 'BatchWrite';

/** A plain gRPC client for what the Node SDK does not expose (page sizes, maximum/minimum). */
export function rawClient(hostPort = process.env.FIRESTORE_EMULATOR_HOST!): RawClient {
  return new proto.FirestoreClient(hostPort, grpc.credentials.createInsecure() as never);
}

/** A unary call on the raw client (request as a plain object), with the emulator's owner token. */
export function call<Res>(client: RawClient, method: UnaryMethod, request: object): Promise<Res> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Bearer owner');
  const messages: Record<UnaryMethod, { fromObject(o: object): unknown }> = {
    Commit: proto.CommitRequest,
    ListDocuments: proto.ListDocumentsRequest,
    PartitionQuery: proto.PartitionQueryRequest,
    GetDocument: proto.GetDocumentRequest,
    BatchWrite: proto.BatchWriteRequest,
  };
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: the generated methods share no callable type
    (client[method] as any)(
      messages[method].fromObject(request),
      metadata,
      (err: Error | null, res: Res) => (err ? reject(err) : resolve(res)),
    );
  });
}
