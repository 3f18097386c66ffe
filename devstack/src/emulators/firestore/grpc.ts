import { createRequire } from 'node:module';

// Load @grpc/grpc-js the way @firestore-emulator/server resolves it, so the server and the
// generated service definitions use one copy regardless of how npm hoisted the tree.
const requireHere = createRequire(import.meta.url);
const requireFromEmulator = createRequire(requireHere.resolve('@firestore-emulator/server'));
export const grpc = requireFromEmulator('@grpc/grpc-js') as typeof import('@grpc/grpc-js');

export const Code = grpc.status;
export type Code = import('@grpc/grpc-js').status;

/** An error that becomes a gRPC status with this code and message. */
export class RpcError extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const invalid = (message: string) => new RpcError(Code.INVALID_ARGUMENT, message);
export const unimplemented = (message: string) => new RpcError(Code.UNIMPLEMENTED, message);
export const aborted = (message: string) => new RpcError(Code.ABORTED, message);

/** The status object grpc-js expects for callbacks and stream errors. */
export function toStatus(err: unknown): { code: Code; details: string; message: string } {
  if (err instanceof RpcError)
    return { code: err.code, details: err.message, message: err.message };
  // FirestoreEmulatorError from the npm package carries a numeric code as well.
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'number' && code > 0 && code <= 16) {
    return { code: code as Code, details: message, message };
  }
  return { code: Code.INTERNAL, details: `internal emulator error: ${message}`, message };
}
