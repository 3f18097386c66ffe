import { fileURLToPath } from 'node:url';
import { startFirestore } from '../../src/emulators/firestore/index.ts';
import { startStorage } from '../../src/emulators/storage/index.ts';
import { failOnOffLoopback, guardLoopback, OFF_LOOPBACK_LOG } from '../../src/loopback.ts';

/**
 * Starts the embedded Firestore and Storage emulators on free ports unless the environment
 * already points at running ones (for example Google's Firestore emulator on a machine with
 * Java 21). `TOLLGATE_RAW_FIRESTORE=1` starts the unpatched npm package instead, to show
 * which fidelity tests fail without our wrapper.
 */
const PROJECT_DIR = fileURLToPath(new URL('../../..', import.meta.url));

export default async function setup() {
  process.env.GCLOUD_PROJECT ??= 'demo-tollgate';
  process.env.METADATA_SERVER_DETECTION = 'none'; // nothing here runs on Google Cloud
  // The test workers (forked after this) and every process they start run with the guard.
  const loopback = guardLoopback(OFF_LOOPBACK_LOG(PROJECT_DIR, `unit-${process.pid}`));
  Object.assign(process.env, loopback.env);
  const stops: Array<() => Promise<void>> = [];
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    const firestore = await startFirestore({ raw: process.env.TOLLGATE_RAW_FIRESTORE === '1' });
    process.env.FIRESTORE_EMULATOR_HOST = firestore.hostPort;
    stops.push(firestore.stop);
  }
  if (!process.env.STORAGE_EMULATOR_HOST) {
    const storage = await startStorage({});
    process.env.STORAGE_EMULATOR_HOST = storage.url;
    stops.push(storage.stop);
  }
  return async () => {
    for (const stop of stops.reverse()) await stop();
    failOnOffLoopback(loopback.attempts(), 'the tests');
  };
}
