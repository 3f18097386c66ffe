// Errors carry the HTTP status and the GCS `reason`, so handlers can throw and the server
// renders the JSON API's error body, which the client turns into `ApiError.code`.
export class StorageApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }

  body() {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: 'global', reason: this.reason }],
      },
    };
  }
}

export const badRequest = (message: string) => new StorageApiError(400, 'invalid', message);

export const required = (what: string) =>
  new StorageApiError(400, 'required', `Required parameter: ${what}`);

export const noSuchObject = (bucket: string, name: string) =>
  new StorageApiError(404, 'notFound', `No such object: ${bucket}/${name}`);

export const noSuchBucket = () =>
  new StorageApiError(404, 'notFound', 'The specified bucket does not exist.');

export const conflict = (message: string) => new StorageApiError(409, 'conflict', message);

export const conditionNotMet = () =>
  new StorageApiError(
    412,
    'conditionNotMet',
    'At least one of the pre-conditions you specified did not hold.',
  );

/** GET with a failed `if*NotMatch` condition: the real API answers 304 without a body. */
export const notModified = () => new StorageApiError(304, 'notModified', 'Not Modified');

export const rangeNotSatisfiable = () =>
  new StorageApiError(
    416,
    'requestedRangeNotSatisfiable',
    'The requested range cannot be satisfied.',
  );

/** Anything outside the subset we serve fails loudly instead of pretending to work. */
export const notImplemented = (what: string) =>
  new StorageApiError(
    501,
    'notImplemented',
    `Not implemented by the Tollgate storage emulator: ${what}`,
  );
