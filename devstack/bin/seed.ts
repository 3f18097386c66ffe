import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getFirestore } from 'firebase-admin/firestore';
import { startFirestore } from '../src/emulators/firestore/index.ts';
import { DEFAULT_PROJECT_ID, PROJECT_DIR } from '../src/stack.ts';

/**
 * `npm run seed`: turns the readable demo documents (emulator-data/demo-documents.json) into
 * the Firestore export the local stack loads (emulator-data/firestore.json), by writing them
 * through firebase-admin to a fresh embedded emulator and exporting its state.
 */
const source = join(PROJECT_DIR, 'emulator-data', 'demo-documents.json');
const target = join(PROJECT_DIR, 'emulator-data', 'firestore.json');
const documents = JSON.parse(readFileSync(source, 'utf8')) as Record<
  string,
  Record<string, unknown>
>;

const emulator = await startFirestore({});
process.env.FIRESTORE_EMULATOR_HOST = emulator.hostPort;
const app = initializeApp({ projectId: DEFAULT_PROJECT_ID }, 'seed');
const db = getFirestore(app);
const batch = db.batch();
for (const [path, data] of Object.entries(documents)) batch.set(db.doc(path), data);
await batch.commit();
const exported = emulator.exportJson();
for (const database of exported.databases) {
  for (const document of database.documents) {
    // Fixed times keep the file stable across regenerations.
    document.createTime = '2026-01-01T00:00:00.000000000Z';
    document.updateTime = '2026-01-01T00:00:00.000000000Z';
  }
}
writeFileSync(target, `${JSON.stringify(exported, null, 2)}\n`);
await deleteApp(app);
await emulator.stop();
console.log(`wrote ${Object.keys(documents).length} documents to ${target}`);
