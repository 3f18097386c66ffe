import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** What flowed through a digest stream, once it has ended. */
export interface StreamDigest {
  bytes: number;
  /** SHA-256, hex. */
  sha256: string;
}

/**
 * A pass-through that counts and hashes (SHA-256) what flows through it, for a backup's pages
 * and payload copies. `check`, given, judges the digest when the stream ends: an error it
 * returns fails the pipeline (a copy that does not match what was recorded).
 */
export function digestStream(check?: (digest: StreamDigest) => Error | null): {
  stream: Transform;
  digest: () => StreamDigest;
} {
  const hash = createHash('sha256');
  let bytes = 0;
  let sha256: string | undefined;
  const digest = (): StreamDigest => {
    sha256 ??= hash.digest('hex');
    return { bytes, sha256 };
  };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      done(check ? check(digest()) : null);
    },
  });
  return { stream, digest };
}
