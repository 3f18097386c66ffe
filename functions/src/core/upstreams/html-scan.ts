/**
 * The HTML reading the price site's pages share: tags found in one linear pass, the closing
 * tag after a point, an element's visible text, attributes, anchors, entities and relative
 * links. Pure: no I/O, no clock; linear in a page's length whatever its markup.
 */

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,8}|#\d{1,8}|[a-z]{1,32});/gi, (whole, code: string) => {
    if (code[0] === '#') {
      const n =
        code[1] === 'x' || code[1] === 'X' ? parseInt(code.slice(2), 16) : Number(code.slice(1));
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return ENTITIES[code.toLowerCase()] ?? whole;
  });
}

/**
 * A tag of a page: `<name attrs>` or `</name attrs>`, from its `<` to the first `>` after its
 * name, as the regular expressions it replaces (`<a\b([^>]*)>`) read tags.
 */
export interface HtmlTag {
  /** Lower case. */
  name: string;
  closing: boolean;
  /** What follows the name, up to the `>`. */
  attrs: string;
  /** Index of the `<`. */
  start: number;
  /** Index just past the `>`. */
  end: number;
}

const isNameChar = (code: number, first: boolean) =>
  (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (!first && code >= 48 && code <= 57);

/**
 * The tags of `html` in order, in one pass: time linear in its length whatever the markup
 * (unclosed anchors, `<` without `>`, tags inside attribute values). A tag runs from `<name`
 * (or `</name`) to the next `>`; a `<` that starts no name is text; once no `>` is left, no tag
 * can close and the scan ends. Every index moves forward only: the search for the next `>` is
 * shared by all the `<` before it, so no character is looked at more than a few times.
 */
export function* htmlTags(html: string): Generator<HtmlTag> {
  let pos = 0;
  let gt = -1;
  for (;;) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) return;
    let i = lt + 1;
    const closing = html.charCodeAt(i) === 47; // '/'
    if (closing) i++;
    const nameStart = i;
    while (i < html.length && isNameChar(html.charCodeAt(i), i === nameStart)) i++;
    if (i === nameStart) {
      pos = lt + 1;
      continue;
    }
    if (gt < i) {
      gt = html.indexOf('>', i);
      if (gt < 0) return;
    }
    yield {
      name: html.slice(nameStart, i).toLowerCase(),
      closing,
      attrs: html.slice(i, gt),
      start: lt,
      end: gt + 1,
    };
    pos = gt + 1;
  }
}

/** `</name>` or `</name   >`: what `<\/name\s*>` matched. */
export const isPlainClose = (tag: HtmlTag) => tag.closing && tag.attrs.trim() === '';

/**
 * Closing tags by name, for "the first `</name>` after this point" in amortised constant time:
 * each name's closes are in document order and each lookup cursor only moves forward, so a
 * pass asking in document order does linear work in all.
 */
export class Closes {
  private readonly byName = new Map<string, HtmlTag[]>();
  private readonly cursors = new Map<string, number>();

  constructor(html: string) {
    for (const tag of htmlTags(html)) {
      if (!isPlainClose(tag)) continue;
      const list = this.byName.get(tag.name);
      if (list) list.push(tag);
      else this.byName.set(tag.name, [tag]);
    }
  }

  /** The first `</name>` starting at or after `from`; `from` must not decrease between calls. */
  next(name: string, from: number): HtmlTag | undefined {
    const list = this.byName.get(name);
    if (!list) return undefined;
    let k = this.cursors.get(name) ?? 0;
    while (k < list.length && list[k]!.start < from) k++;
    this.cursors.set(name, k);
    return list[k];
  }
}

/**
 * Visible text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed. A tag
 * is `<` up to the next `>` (what `/<[^>]*>/g` removed), found in one linear pass.
 */
export function textOf(html: string): string {
  let out = '';
  let pos = 0;
  let gt = -1;
  for (;;) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) break;
    if (gt < lt) gt = html.indexOf('>', lt);
    if (gt < 0) break;
    out += `${html.slice(pos, lt)} `;
    pos = gt + 1;
  }
  out += html.slice(pos);
  return decodeEntities(out).replace(/\s+/g, ' ').trim();
}

export function attributes(tag: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of tag.matchAll(/([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g)) {
    const name = m[1]!.toLowerCase();
    if (!(name in found)) found[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return found;
}

/** An anchor of a page: its attributes and the markup it encloses. */
export interface Anchor {
  attrs: string;
  inner: string;
}

/**
 * The anchors of `html` in one linear pass. An anchor encloses what follows it up to `</a>`,
 * or up to the next `<a` (anchors do not nest: an HTML parser closes one there), or the end.
 */
export function* anchors(html: string): Generator<Anchor> {
  let open: HtmlTag | undefined;
  for (const tag of htmlTags(html)) {
    if (tag.name !== 'a') continue;
    if (open) yield { attrs: open.attrs, inner: html.slice(open.end, tag.start) };
    open = tag.closing ? undefined : tag;
  }
  if (open) yield { attrs: open.attrs, inner: html.slice(open.end) };
}

/** `href` resolved against `base`: undefined when it is no URL. */
export function resolve(href: string, base: string): URL | undefined {
  try {
    return new URL(href, base);
  } catch {
    return undefined;
  }
}

/** Text of the first `<name>` that is closed, up to its first `</name>`: one linear pass. */
export function firstElementText(html: string, name: string): string | undefined {
  let open: HtmlTag | undefined;
  for (const tag of htmlTags(html)) {
    if (tag.name !== name) continue;
    if (!open) {
      if (!tag.closing) open = tag;
    } else if (isPlainClose(tag)) {
      return textOf(html.slice(open.end, tag.start));
    }
  }
  return undefined;
}
