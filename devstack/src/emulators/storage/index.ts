// In-memory Cloud Storage JSON API for the local stack and tests: point
// STORAGE_EMULATOR_HOST at `url` and @google-cloud/storage / firebase-admin/storage use it.
export { type StorageEmulator, type StorageOptions, startStorage } from './server.ts';
