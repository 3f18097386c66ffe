import type { Storage } from 'firebase-admin/storage';
import type { PayloadConfig, PayloadMetadata } from '../../core/storage/payloads';

/** What the payload store takes and gives back, and the error of a payload whose object is gone. */

export type Bucket = ReturnType<Storage['bucket']>;
export type StorageFile = ReturnType<Bucket['file']>;

export interface PutOptions {
  contentType: string;
  /** Temporary payloads are removed by the clean-up once older than its threshold. */
  temporary?: boolean;
}

/** The payload's metadata; `created` is false when the id was already stored (nothing written). */
export type PutResult = PayloadMetadata & { created: boolean };
export type StoredPayload = PayloadMetadata & { data: Buffer };

export interface CleanupResult {
  /** Temporary objects deleted from Cloud Storage. */
  objects: number;
  /** Metadata documents deleted (inline temporaries and those of the deleted objects). */
  documents: number;
}

export interface PayloadStoreOptions {
  config?: PayloadConfig;
  /** Clock for `createdAt`; the clean-up takes its "now" as an argument. */
  now?: () => number;
}

/** The metadata says the payload is in Cloud Storage but the object is not there. */
export class PayloadMissingError extends Error {
  constructor(
    readonly id: string,
    readonly object: string,
  ) {
    super(`payload ${id}: object ${object} is missing`);
    this.name = 'PayloadMissingError';
  }
}
