/**
 * A static check of firestore.rules, for rules written the way Tollgate writes them: `match`
 * blocks, `allow <methods>: if <condition>;`, and helper functions whose body is one
 * `return <expression>;` without parameters. Anything else is reported as unsupported rather
 * than guessed at.
 *
 * Policy: no client writes (every write, create, update, delete is `if false`); every other
 * allow needs a signed-in user AND a role claim, i.e. after inlining helper functions its
 * condition is a conjunction with `request.auth != null` as one term and, as another, a
 * disjunction in which every alternative is a recognised role test.
 */

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const WRITE_METHODS = new Set(['write', 'create', 'update', 'delete']);
const READ_METHODS = new Set(['read', 'get', 'list']);

export interface AllowRule {
  /** The enclosing match paths, outermost first. */
  path: string[];
  methods: string[];
  /** The condition as written (null: `allow x;` without one, which always allows). */
  condition: string | null;
  /** With helper functions inlined and whitespace normalized. */
  expanded: string | null;
}

export interface RulesAnalysis {
  rules: AllowRule[];
  problems: string[];
}

function stripComments(text: string): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      out += c;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

/** Index of the bracket closing the one at `open`, skipping strings. */
function matching(text: string, open: number): number {
  const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  const stack: string[] = [];
  let quote: string | null = null;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (pairs[c]) stack.push(pairs[c]!);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

function normalize(expr: string): string {
  return expr
    .replace(/\s+/g, ' ')
    .replace(/\(\s+/g, '(')
    .replace(/\s+\)/g, ')')
    .replace(/\[\s+/g, '[')
    .replace(/\s+\]/g, ']')
    .trim();
}

/** Splits at `op` where no bracket or string is open. */
export function splitTop(expr: string, op: '&&' | '||'): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0 && expr.startsWith(op, i)) {
      parts.push(expr.slice(start, i).trim());
      start = i + op.length;
      i += op.length - 1;
    }
  }
  parts.push(expr.slice(start).trim());
  return parts;
}

export function stripParens(expr: string): string {
  let e = expr.trim();
  while (e.startsWith('(') && matching(e, 0) === e.length - 1) e = e.slice(1, -1).trim();
  return e;
}

const ROLE_LIST = `\\[\\s*'(?:viewer|operator|admin)'(?:\\s*,\\s*'(?:viewer|operator|admin)')*\\s*\\]`;
const ROLE_FIELD = String.raw`request\.auth\.token(?:\.role|\.get\('role', ''\))`;
const ROLE_TESTS = [
  new RegExp(`^${ROLE_FIELD} in ${ROLE_LIST}$`),
  new RegExp(`^${ROLE_FIELD} == '(?:viewer|operator|admin)'$`),
  /^request\.auth\.token(?:\.(?:viewer|operator|admin)|\.get\('(?:viewer|operator|admin)', false\)) == true$/,
];

function isRoleTest(expr: string): boolean {
  const e = stripParens(expr);
  return ROLE_TESTS.some((re) => re.test(e));
}

/** Roles a role test lets in. */
function rolesOf(expr: string): Role[] {
  const e = stripParens(expr);
  return ROLES.filter((role) => new RegExp(`'${role}'|\\.${role}\\b`).test(e));
}

function inline(expr: string, functions: Map<string, string>, problems: string[]): string {
  let out = expr;
  for (let round = 0; round < 10; round++) {
    let changed = false;
    out = out.replace(/\b([A-Za-z_]\w*)\(([^()]*)\)/g, (call, name: string, args: string) => {
      const body = functions.get(name);
      if (body === undefined) return call;
      if (args.trim() !== '')
        problems.push(`call ${call}: functions with parameters are not supported`);
      changed = true;
      return `(${body})`;
    });
    if (!changed) return normalize(out);
  }
  problems.push(`functions nest too deep in: ${expr}`);
  return normalize(out);
}

export function analyzeRules(source: string): RulesAnalysis {
  const problems: string[] = [];
  let text = stripComments(source);

  // Helper functions: collected, then blanked out so their braces do not look like blocks.
  const functions = new Map<string, string>();
  for (;;) {
    const match = /\bfunction\s+([A-Za-z_]\w*)\s*\(([^)]*)\)\s*\{/.exec(text);
    if (!match) break;
    const open = match.index + match[0].length - 1;
    const close = matching(text, open);
    if (close < 0) {
      problems.push(`function ${match[1]}: unbalanced braces`);
      break;
    }
    const body = /^\s*return\s+([\s\S]*?);?\s*$/.exec(text.slice(open + 1, close));
    if (!body || match[2]!.trim() !== '') {
      problems.push(
        `function ${match[1]}: only \`return <expression>;\` without parameters is supported`,
      );
    } else {
      functions.set(match[1]!, normalize(body[1]!));
    }
    text = text.slice(0, match.index) + ' '.repeat(close + 1 - match.index) + text.slice(close + 1);
  }

  const rules: AllowRule[] = [];
  const stack: string[] = [];
  const token =
    /\b(match)\s+(\/(?:[^\s{}]|\{[^\s{}]*\})*)\s*\{|\b(service)\s+[^{]+\{|\}|\ballow\b/g;
  for (let m = token.exec(text); m; m = token.exec(text)) {
    if (m[1]) stack.push(m[2]!.trim());
    else if (m[3]) stack.push('');
    else if (m[0] === '}') {
      if (stack.pop() === undefined) problems.push('unbalanced } in rules');
    } else {
      // allow <methods> [: if <condition>] ;
      let i = m.index + m[0].length;
      let quote: string | null = null;
      let depth = 0;
      for (; i < text.length; i++) {
        const c = text[i]!;
        if (quote) {
          if (c === '\\') i++;
          else if (c === quote) quote = null;
        } else if (c === '"' || c === "'") quote = c;
        else if ('([{'.includes(c)) depth++;
        else if (')]}'.includes(c)) depth--;
        else if (c === ';' && depth === 0) break;
      }
      const statement = normalize(text.slice(m.index + m[0].length, i));
      token.lastIndex = i + 1;
      const parsed = /^([\w\s,]+?)(?:\s*:\s*if\s+([\s\S]+))?$/.exec(statement);
      if (!parsed) {
        problems.push(`unreadable allow statement: allow ${statement}`);
        continue;
      }
      const methods = parsed[1]!.split(',').map((s) => s.trim());
      const condition = parsed[2] ? normalize(parsed[2]) : null;
      rules.push({
        path: stack.filter((p) => p !== ''),
        methods,
        condition,
        expanded: condition === null ? null : inline(condition, functions, problems),
      });
    }
  }
  if (stack.length > 0) problems.push('unbalanced { in rules');

  for (const rule of rules) {
    const where = `match ${rule.path.join(' ')}: allow ${rule.methods.join(', ')}`;
    for (const method of rule.methods) {
      if (!WRITE_METHODS.has(method) && !READ_METHODS.has(method)) {
        problems.push(`${where}: unknown method "${method}"`);
      }
    }
    if (rule.expanded === null) {
      problems.push(`${where}: no condition, so it always allows`);
      continue;
    }
    if (stripParens(rule.expanded) === 'false') continue;
    if (rule.methods.some((m) => WRITE_METHODS.has(m))) {
      problems.push(`${where}: clients may not write; the condition must be \`if false\``);
    }
    const condition = stripParens(rule.expanded);
    if (splitTop(condition, '||').length > 1) {
      problems.push(
        `${where}: an alternative at the top level (||) skips the auth and role checks`,
      );
      continue;
    }
    const terms = splitTop(condition, '&&').map(stripParens);
    if (!terms.includes('request.auth != null')) {
      problems.push(`${where}: the condition does not require request.auth != null`);
    }
    const roleTerm = terms.some((t) => splitTop(t, '||').every(isRoleTest));
    if (!roleTerm) problems.push(`${where}: the condition does not require a role claim`);
  }
  return { rules, problems };
}

/** For each allow that can grant: its path, methods and the roles it lets in. */
export function accessMatrix(analysis: RulesAnalysis): Array<{
  path: string;
  methods: string[];
  roles: Role[];
}> {
  return analysis.rules
    .filter((r) => r.expanded !== null && stripParens(r.expanded) !== 'false')
    .map((r) => {
      const terms = splitTop(stripParens(r.expanded!), '&&').map(stripParens);
      const roleTerm = terms.find((t) => splitTop(t, '||').every(isRoleTest)) ?? '';
      const roles = new Set(splitTop(roleTerm, '||').flatMap(rolesOf));
      return {
        // Without /databases/{database}/documents; each nested match starts with its own '/'.
        path: r.path.slice(1).join(''),
        methods: r.methods,
        roles: ROLES.filter((role) => roles.has(role)),
      };
    });
}
