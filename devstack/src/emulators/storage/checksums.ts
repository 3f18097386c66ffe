import { createHash } from 'node:crypto';

// GCS reports CRC32C (Castagnoli) and MD5 as base64 of the big-endian digest; the client
// compares them with its own on every upload and download, so they must be exact.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface Checksums {
  crc32c: string;
  md5Hash: string;
}

export function checksums(data: Uint8Array): Checksums {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(data));
  return {
    crc32c: crc.toString('base64'),
    md5Hash: createHash('md5').update(data).digest('base64'),
  };
}

/** Parses an `X-Goog-Hash: crc32c=...,md5=...` header into its parts. */
export function parseGoogHash(header: string | string[] | undefined): Partial<Checksums> {
  const out: Partial<Checksums> = {};
  const values = Array.isArray(header) ? header : header ? [header] : [];
  for (const pair of values.flatMap((v) => v.split(','))) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase();
    const value = pair.slice(at + 1).trim();
    if (key === 'crc32c') out.crc32c = value;
    else if (key === 'md5') out.md5Hash = value;
  }
  return out;
}
