import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getApps, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';

/** One firebase-admin app per instance, created on first use (cold starts stay cheap). */
export function db(): Firestore {
  if (!getApps().some((app) => app.name === '[DEFAULT]')) {
    initializeApp();
    getFirestore().settings({ ignoreUndefinedProperties: true });
  }
  return getFirestore();
}

export function projectId(): string {
  return process.env.GCLOUD_PROJECT ?? process.env.GCP_PROJECT ?? 'unknown';
}

let cachedVersion: string | undefined;
export function version(): string {
  cachedVersion ??= (
    JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return cachedVersion;
}
