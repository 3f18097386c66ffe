import { createRequire } from 'node:module';

/**
 * @firestore-emulator/server and its protobuf classes, loaded with require(): the package's
 * "module" build has extensionless imports that Node's ESM loader rejects, and vitest would
 * pick that build for an ESM import. require() gives everyone the one CommonJS copy.
 */
const require = createRequire(import.meta.url);
const v1 = '@firestore-emulator/proto/dist/google/firestore/v1';

export const emulatorPackage =
  require('@firestore-emulator/server') as typeof import('@firestore-emulator/server');
export const firestoreProto = require(
  `${v1}/firestore.js`,
) as typeof import('@firestore-emulator/proto/dist/google/firestore/v1/firestore.js');
export const documentProto = require(
  `${v1}/document.js`,
) as typeof import('@firestore-emulator/proto/dist/google/firestore/v1/document.js');
export const writeProto = require(
  `${v1}/write.js`,
) as typeof import('@firestore-emulator/proto/dist/google/firestore/v1/write.js');
export const emptyProto =
  require('@firestore-emulator/proto/dist/google/protobuf/empty.js') as typeof import('@firestore-emulator/proto/dist/google/protobuf/empty.js');
