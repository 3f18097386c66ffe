import { badRequest } from './errors.ts';

// `uploadType=multipart` bodies are multipart/related: a JSON metadata part, then the media.

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

export function boundaryOf(contentType: string | undefined): string {
  const m = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(
    contentType ?? '',
  );
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw badRequest('Multipart upload needs a multipart/related boundary.');
  return boundary;
}

export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const separator = Buffer.from(`\r\n--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) throw badRequest('Multipart body has no boundary.');
  at += delimiter.length;
  const parts: Part[] = [];
  // After each delimiter: "--" closes the body, otherwise CRLF, headers, blank line, content.
  while (!startsWith(body, at, '--')) {
    if (at >= body.length) throw badRequest('Multipart body is not terminated.');
    if (startsWith(body, at, '\r\n')) at += 2;
    let headerText = '';
    let contentStart = at + 2; // a part without headers starts with the blank line
    if (!startsWith(body, at, '\r\n')) {
      const headerEnd = body.indexOf('\r\n\r\n', at);
      if (headerEnd < 0) throw badRequest('Multipart part has no header terminator.');
      headerText = body.subarray(at, headerEnd).toString('utf8');
      contentStart = headerEnd + 4;
    }
    const next = body.indexOf(separator, contentStart);
    if (next < 0) throw badRequest('Multipart body is not terminated.');
    const headers = parseHeaders(headerText);
    let content = body.subarray(contentStart, next);
    if (headers['content-transfer-encoding']?.toLowerCase() === 'base64') {
      content = Buffer.from(content.toString('ascii'), 'base64');
    }
    parts.push({ headers, body: content });
    at = next + separator.length;
  }
  return parts;
}

function startsWith(body: Buffer, at: number, text: string): boolean {
  return body.subarray(at, at + text.length).toString('latin1') === text;
}

function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
