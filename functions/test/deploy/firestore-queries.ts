import { relative } from 'node:path';
import ts from 'typescript';

/**
 * The Firestore queries the functions run, found in their source with the TypeScript type
 * checker, and the indexes each needs.
 *
 * Every expression whose type is a Firestore query that is executed (`.get()`, `.stream()`,
 * `.count()`, `.aggregate()`, `.onSnapshot()`, a transaction's `get(query)`) is traced back to
 * its collection: through `.where` / `.orderBy` (which shape the index), the clauses that do not
 * (`limit`, `select`, cursors...), variables (each assignment that can reach the execution, so
 * `if`/`else` branches give separate queries), conditional expressions, helper functions and
 * methods that return a query, and parameters (through every call site). Collection ids, field
 * paths, operators and directions must be literal types (constants declared `as const` are).
 * Whatever the trace cannot follow is reported as unresolved, never skipped, so a query the
 * analysis does not understand fails the test that uses it instead of passing unchecked.
 */

export type Scope = 'COLLECTION' | 'COLLECTION_GROUP';
export type Direction = 'ASCENDING' | 'DESCENDING';

export interface QueryShape {
  collectionGroup: string;
  scope: Scope;
  filters: Array<{ field: string; op: string }>;
  orderBy: Array<{ field: string; direction: Direction }>;
}

export interface FoundQuery extends QueryShape {
  /** file:line of the execution. */
  at: string;
}

export interface Unresolved {
  at: string;
  why: string;
}

export interface QueryScan {
  queries: FoundQuery[];
  unresolved: Unresolved[];
}

const QUERY_TYPES = new Set(['Query', 'CollectionReference', 'CollectionGroup']);
/** Query methods that return a query with the same index needs. */
const PASSTHROUGH = new Set([
  'limit',
  'limitToLast',
  'offset',
  'select',
  'startAt',
  'startAfter',
  'endAt',
  'endBefore',
  'withConverter',
]);
/** Query members that run it. */
const EXECUTE = new Set([
  'get',
  'stream',
  'count',
  'aggregate',
  'onSnapshot',
  'explain',
  'explainStream',
]);

class Unsupported extends Error {
  constructor(
    readonly node: ts.Node,
    why: string,
  ) {
    super(why);
  }
}

/** Scans every project file of `program` (not declaration files, not node_modules). */
export function scanQueries(program: ts.Program, projectDir: string): QueryScan {
  const checker = program.getTypeChecker();
  const files = program
    .getSourceFiles()
    .filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'));
  const where = (node: ts.Node) => {
    const file = node.getSourceFile();
    const { line } = file.getLineAndCharacterOfPosition(node.getStart());
    return `${relative(projectDir, file.fileName)}:${line + 1}`;
  };

  const fromFirestoreTypes = (symbol: ts.Symbol | undefined) =>
    symbol?.declarations?.some((d) =>
      d.getSourceFile().fileName.includes('@google-cloud/firestore'),
    );
  const isQueryType = (type: ts.Type): boolean => {
    if (type.isUnion()) return type.types.every(isQueryType);
    const symbol = type.getSymbol() ?? type.aliasSymbol;
    return !!symbol && QUERY_TYPES.has(symbol.getName()) && !!fromFirestoreTypes(symbol);
  };
  const typeName = (type: ts.Type) => (type.getSymbol() ?? type.aliasSymbol)?.getName();
  const isQuery = (node: ts.Node) => isQueryType(checker.getTypeAtLocation(node));

  // Every call of every project function, to follow a query passed in as an argument.
  const callsOf = new Map<ts.Node, ts.CallExpression[]>();
  const visitCalls = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const declaration = checker.getResolvedSignature(node)?.declaration;
      if (declaration && !ts.isJSDocSignature(declaration)) {
        const list = callsOf.get(declaration) ?? [];
        list.push(node);
        callsOf.set(declaration, list);
      }
    }
    ts.forEachChild(node, visitCalls);
  };
  for (const file of files) visitCalls(file);

  const literal = (node: ts.Expression, what: string): string => {
    const type = checker.getTypeAtLocation(node);
    if (type.isStringLiteral()) return type.value;
    throw new Unsupported(node, `${what} is not a literal (${node.getText()})`);
  };
  const fieldOf = (node: ts.Expression): string => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'documentId'
    ) {
      return '__name__';
    }
    return literal(node, 'field path');
  };
  const collectionId = (node: ts.Expression) => {
    const path = literal(node, 'collection id');
    return path.slice(path.lastIndexOf('/') + 1);
  };

  const unwrap = (node: ts.Expression): ts.Expression =>
    ts.isParenthesizedExpression(node) ||
    ts.isAsExpression(node) ||
    ts.isNonNullExpression(node) ||
    ts.isSatisfiesExpression(node) ||
    ts.isAwaitExpression(node)
      ? unwrap(node.expression)
      : node;

  type Env = Map<ts.Symbol, ts.Expression>;
  const visiting = new Set<ts.Node>();

  /** The shapes a query-typed expression can have. */
  const shapes = (expression: ts.Expression, env: Env): QueryShape[] => {
    const node = unwrap(expression);
    if (typeName(checker.getTypeAtLocation(node)) === 'CollectionReference') {
      // A collection reference carries no clauses: which collection matters only once some are
      // added, so one that cannot be named is an error only then.
      try {
        return shapesOf(node, env);
      } catch (error) {
        if (!(error instanceof Unsupported)) throw error;
        return [
          { collectionGroup: `?${node.getText()}`, scope: 'COLLECTION', filters: [], orderBy: [] },
        ];
      }
    }
    return shapesOf(node, env);
  };
  const named = (list: QueryShape[], node: ts.Node) => {
    for (const shape of list) {
      if (shape.collectionGroup.startsWith('?')) {
        throw new Unsupported(
          node,
          `a query on a collection that is not named by a literal (${shape.collectionGroup.slice(1)})`,
        );
      }
    }
    return list;
  };
  const shapesOf = (node: ts.Expression, env: Env): QueryShape[] => {
    if (ts.isConditionalExpression(node)) {
      return [...shapes(node.whenTrue, env), ...shapes(node.whenFalse, env)];
    }
    if (ts.isCallExpression(node)) return callShapes(node, env);
    if (ts.isIdentifier(node)) return identifierShapes(node, env);
    throw new Unsupported(node, `a query from ${ts.SyntaxKind[node.kind]} (${node.getText()})`);
  };

  const callShapes = (node: ts.CallExpression, env: Env): QueryShape[] => {
    const callee = node.expression;
    if (ts.isPropertyAccessExpression(callee)) {
      const method = callee.name.text;
      const receiver = callee.expression;
      const receiverType = typeName(checker.getTypeAtLocation(receiver));
      if (
        (method === 'collection' || method === 'collectionGroup') &&
        (receiverType === 'Firestore' || receiverType === 'DocumentReference')
      ) {
        return [
          {
            collectionGroup: collectionId(node.arguments[0]!),
            scope: method === 'collection' ? 'COLLECTION' : 'COLLECTION_GROUP',
            filters: [],
            orderBy: [],
          },
        ];
      }
      if (isQuery(receiver)) {
        if (method === 'where') {
          if (node.arguments.length !== 3) {
            throw new Unsupported(node, 'a where() with a Filter (composite filters)');
          }
          const filter = {
            field: fieldOf(node.arguments[0]!),
            op: literal(node.arguments[1]!, 'operator'),
          };
          return named(shapes(receiver, env), node).map((s) => ({
            ...s,
            filters: [...s.filters, filter],
          }));
        }
        if (method === 'orderBy') {
          const dir = node.arguments[1] ? literal(node.arguments[1], 'direction') : 'asc';
          const order = {
            field: fieldOf(node.arguments[0]!),
            direction: (dir === 'desc' ? 'DESCENDING' : 'ASCENDING') as Direction,
          };
          return named(shapes(receiver, env), node).map((s) => ({
            ...s,
            orderBy: [...s.orderBy, order],
          }));
        }
        if (PASSTHROUGH.has(method)) return shapes(receiver, env);
        throw new Unsupported(node, `the query method ${method}()`);
      }
    }
    // A project function or method that returns a query: what its returns can be, with its
    // parameters bound to this call's arguments.
    const declaration = checker.getResolvedSignature(node)?.declaration;
    if (
      declaration &&
      !ts.isJSDocSignature(declaration) &&
      'body' in declaration &&
      declaration.body &&
      !declaration.getSourceFile().isDeclarationFile
    ) {
      const bound: Env = new Map(env);
      declaration.parameters.forEach((parameter, i) => {
        const symbol = checker.getSymbolAtLocation(parameter.name);
        const argument = node.arguments[i];
        if (symbol && argument) bound.set(symbol, argument);
      });
      const body = declaration.body as ts.Node;
      const returned: ts.Expression[] = [];
      if (ts.isBlock(body)) {
        const visit = (n: ts.Node) => {
          if (ts.isReturnStatement(n) && n.expression) returned.push(n.expression);
          if (!ts.isFunctionLike(n)) ts.forEachChild(n, visit);
        };
        ts.forEachChild(body, visit);
      } else {
        returned.push(body as ts.Expression);
      }
      return returned.filter(isQuery).flatMap((r) => shapes(r, bound));
    }
    throw new Unsupported(node, `a query returned by ${callee.getText()}()`);
  };

  const identifierShapes = (node: ts.Identifier, env: Env): QueryShape[] => {
    const symbol = checker.getSymbolAtLocation(node);
    if (!symbol) throw new Unsupported(node, `no symbol for ${node.text}`);
    const bound = env.get(symbol);
    if (bound) return shapes(bound, new Map());
    const declaration = symbol.valueDeclaration;
    if (declaration && ts.isParameter(declaration)) {
      const fn = declaration.parent;
      const index = fn.parameters.indexOf(declaration);
      const calls = callsOf.get(fn) ?? [];
      if (calls.length === 0) {
        throw new Unsupported(node, `the query parameter ${node.text} of a function never called`);
      }
      return calls.flatMap((call) => {
        const argument = call.arguments[index];
        return argument ? shapes(argument, new Map()) : [];
      });
    }
    if (declaration && ts.isVariableDeclaration(declaration)) {
      return definitionsReaching(declaration, symbol, node).flatMap((definition) => {
        if (visiting.has(definition)) return [];
        visiting.add(definition);
        try {
          return shapes(definition, env);
        } finally {
          visiting.delete(definition);
        }
      });
    }
    throw new Unsupported(node, `a query held in ${node.text}`);
  };

  /** The values assigned to a variable that can be its value at `use`. */
  const definitionsReaching = (
    declaration: ts.VariableDeclaration,
    symbol: ts.Symbol,
    use: ts.Node,
  ): ts.Expression[] => {
    if (!ts.isIdentifier(declaration.name)) {
      throw new Unsupported(use, `a query destructured into ${use.getText()}`);
    }
    const scope =
      ts.findAncestor(declaration, (n) => ts.isFunctionLike(n) || ts.isSourceFile(n)) ??
      declaration.getSourceFile();
    const definitions: Array<{ at: ts.Node; value: ts.Expression }> = [];
    if (declaration.initializer)
      definitions.push({ at: declaration, value: declaration.initializer });
    const visit = (n: ts.Node) => {
      if (
        ts.isBinaryExpression(n) &&
        n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        ts.isIdentifier(n.left) &&
        checker.getSymbolAtLocation(n.left) === symbol
      ) {
        definitions.push({ at: n, value: n.right });
      }
      ts.forEachChild(n, visit);
    };
    visit(scope);
    return definitions.filter(({ at }) => reaches(at, use, scope)).map(({ value }) => value);
  };

  return collect(files, checker, where, isQuery, shapes);

  function reaches(definition: ts.Node, use: ts.Node, scope: ts.Node): boolean {
    // A closure may run after any assignment of the variable it captures.
    const useFunction = ts.findAncestor(use, (n) => ts.isFunctionLike(n) || ts.isSourceFile(n));
    if (useFunction !== scope && !contains(useFunction!, definition)) return true;
    if (exclusive(definition, use)) return false;
    if (definition.end <= use.getStart()) return true;
    // Later in the text: only round a loop that holds both.
    return !!ts.findAncestor(
      definition,
      (n) => n !== scope && isLoop(n) && contains(n, use) && contains(n, definition),
    );
  }
}

function contains(outer: ts.Node, inner: ts.Node): boolean {
  return outer.pos <= inner.pos && inner.end <= outer.end;
}

function isLoop(node: ts.Node): boolean {
  return (
    ts.isForStatement(node) ||
    ts.isForOfStatement(node) ||
    ts.isForInStatement(node) ||
    ts.isWhileStatement(node) ||
    ts.isDoStatement(node)
  );
}

/** Whether two nodes sit in different branches of the same `if` or `?:`. */
function exclusive(a: ts.Node, b: ts.Node): boolean {
  let child: ts.Node = a;
  while (child.parent && !contains(child.parent, b)) child = child.parent;
  const common = child.parent;
  if (!common) return false;
  let other: ts.Node = b;
  while (other.parent && other.parent !== common) other = other.parent;
  const branches: Array<ts.Node | undefined> = ts.isIfStatement(common)
    ? [common.thenStatement, common.elseStatement]
    : ts.isConditionalExpression(common)
      ? [common.whenTrue, common.whenFalse]
      : [];
  return child !== other && branches.includes(child) && branches.includes(other);
}

/** The executed queries of the files, each traced to its shapes. */
function collect(
  files: readonly ts.SourceFile[],
  checker: ts.TypeChecker,
  where: (node: ts.Node) => string,
  isQuery: (node: ts.Node) => boolean,
  shapes: (node: ts.Expression, env: Map<ts.Symbol, ts.Expression>) => QueryShape[],
): QueryScan {
  const queries: FoundQuery[] = [];
  const unresolved: Unresolved[] = [];
  const seen = new Set<string>();
  const executed = (node: ts.Expression): boolean => {
    const parent = node.parent;
    if (ts.isPropertyAccessExpression(parent) && parent.expression === node) {
      return EXECUTE.has(parent.name.text) || parent.name.text === 'findNearest';
    }
    if (ts.isCallExpression(parent) && parent.arguments.includes(node)) {
      // Passed to Firestore itself (a transaction's get); a project function's parameter is
      // traced where that function runs it.
      const declaration = checker.getResolvedSignature(parent)?.declaration;
      return !!declaration?.getSourceFile().fileName.includes('@google-cloud/firestore');
    }
    return false;
  };
  const visit = (node: ts.Node) => {
    if (ts.isExpression(node) && !ts.isParenthesizedExpression(node.parent) && isQuery(node)) {
      // A whole collection (or collection group) read needs no index.
      const bare = ['CollectionReference', 'CollectionGroup'].includes(
        checker.getTypeAtLocation(node).getSymbol()?.getName() ?? '',
      );
      if (!bare && executed(node)) {
        try {
          if (
            ts.isPropertyAccessExpression(node.parent) &&
            node.parent.name.text === 'findNearest'
          ) {
            throw new Unsupported(node, 'a vector query (findNearest): needs a vector index');
          }
          for (const shape of shapes(node, new Map())) {
            if (shape.filters.length === 0 && shape.orderBy.length === 0) continue;
            const found = { ...shape, at: where(node) };
            const key = JSON.stringify(found);
            if (!seen.has(key)) {
              seen.add(key);
              queries.push(found);
            }
          }
        } catch (error) {
          if (!(error instanceof Unsupported)) throw error;
          unresolved.push({ at: where(error.node), why: error.message });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const file of files) visit(file);
  return { queries, unresolved };
}

/**
 * A program over a tsconfig's files, or with `extra` in-memory files over only those (and what
 * they import), with the tsconfig's options.
 */
export function programOf(tsconfig: string, extra: Record<string, string> = {}): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const options = { ...config.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name in extra
      ? ts.createSourceFile(name, extra[name]!, language)
      : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name in extra || fileExists(name);
  const roots = Object.keys(extra).length > 0 ? Object.keys(extra) : config.fileNames;
  return ts.createProgram(roots, options, host);
}

// ---- What a query needs from firestore.indexes.json ------------------------------------------

export interface IndexField {
  fieldPath: string;
  order?: Direction;
  arrayConfig?: 'CONTAINS';
}

export interface CompositeIndex {
  collectionGroup: string;
  queryScope: Scope;
  fields: IndexField[];
}

export interface FieldOverride {
  collectionGroup: string;
  fieldPath: string;
  indexes: Array<{ order?: Direction; arrayConfig?: 'CONTAINS'; queryScope?: Scope }>;
}

export interface IndexSpec {
  indexes: CompositeIndex[];
  fieldOverrides: FieldOverride[];
}

const EQUALITY = new Set(['==', 'in']);
const ARRAY = new Set(['array-contains', 'array-contains-any']);

/**
 * The index a query needs: Firestore serves it from single-field indexes when it orders by at
 * most one field (besides the document id) and filters on no other field than that one except by
 * equality merged across fields; otherwise from a composite index whose fields are the equality
 * (and array) fields in any order, then the sort fields in order: the explicit orderBys, then the
 * inequality fields not among them, in field-name order and the last orderBy's direction.
 */
export function indexNeed(
  query: QueryShape,
):
  | { kind: 'single'; fields: Array<IndexField & { anyOrder?: boolean }> }
  | { kind: 'composite'; index: CompositeIndex; equality: IndexField[]; sort: IndexField[] } {
  const filters = query.filters.filter((f) => f.field !== '__name__');
  const equality = [
    ...new Map(
      filters
        .filter((f) => EQUALITY.has(f.op) || ARRAY.has(f.op))
        .map((f): [string, IndexField] => [
          f.field,
          ARRAY.has(f.op)
            ? { fieldPath: f.field, arrayConfig: 'CONTAINS' }
            : { fieldPath: f.field, order: 'ASCENDING' },
        ]),
    ).values(),
  ];
  const explicit = query.orderBy.filter((o) => o.field !== '__name__');
  const direction = explicit.at(-1)?.direction ?? 'ASCENDING';
  const inequality = [
    ...new Set(filters.filter((f) => !EQUALITY.has(f.op) && !ARRAY.has(f.op)).map((f) => f.field)),
  ]
    .filter((field) => !explicit.some((o) => o.field === field))
    .sort();
  const sort: IndexField[] = [
    ...explicit.map((o) => ({ fieldPath: o.field, order: o.direction })),
    ...inequality.map((field) => ({ fieldPath: field, order: direction })),
  ];
  const others = equality.filter((e) => !sort.some((s) => s.fieldPath === e.fieldPath));
  if (sort.length === 0) {
    // Equalities only: merged from each field's index, in whichever order it keeps.
    return { kind: 'single', fields: equality.map((e) => ({ ...e, anyOrder: true })) };
  }
  if (sort.length === 1 && others.length === 0) return { kind: 'single', fields: sort };
  return {
    kind: 'composite',
    index: {
      collectionGroup: query.collectionGroup,
      queryScope: query.scope,
      fields: [...others, ...sort],
    },
    equality: others,
    sort,
  };
}

/** Why `spec` cannot serve the query, or undefined when it can. */
export function missingIndex(query: QueryShape, spec: IndexSpec): string | undefined {
  const need = indexNeed(query);
  if (need.kind === 'composite') {
    const serves = (index: CompositeIndex) => {
      if (index.collectionGroup !== query.collectionGroup) return false;
      if ((index.queryScope ?? 'COLLECTION') !== query.scope) return false;
      const fields = index.fields.filter(
        (f, i) => !(f.fieldPath === '__name__' && i === index.fields.length - 1),
      );
      if (fields.length !== need.equality.length + need.sort.length) return false;
      const head = fields.slice(0, need.equality.length);
      const tail = fields.slice(need.equality.length);
      const equalityServed = need.equality.every((e) =>
        head.some(
          (f) =>
            f.fieldPath === e.fieldPath &&
            (e.arrayConfig ? f.arrayConfig === 'CONTAINS' : f.order !== undefined),
        ),
      );
      const sortServed = need.sort.every(
        (s, i) => tail[i]?.fieldPath === s.fieldPath && tail[i]?.order === s.order,
      );
      return equalityServed && sortServed;
    };
    return spec.indexes.some(serves)
      ? undefined
      : `needs the composite index ${JSON.stringify(need.index)}`;
  }
  for (const field of need.fields) {
    // The most specific override of the field (or of a map holding it) replaces the automatic
    // single-field indexes, which exist only in collection scope.
    const override = spec.fieldOverrides
      .filter(
        (o) =>
          o.collectionGroup === query.collectionGroup &&
          (o.fieldPath === field.fieldPath || field.fieldPath.startsWith(`${o.fieldPath}.`)),
      )
      .sort((a, b) => b.fieldPath.length - a.fieldPath.length)[0];
    const available = override
      ? override.indexes.filter((i) => (i.queryScope ?? 'COLLECTION') === query.scope)
      : query.scope === 'COLLECTION'
        ? [{ order: 'ASCENDING' }, { order: 'DESCENDING' }, { arrayConfig: 'CONTAINS' }]
        : [];
    const served = available.some((i) =>
      field.arrayConfig
        ? i.arrayConfig === 'CONTAINS'
        : field.anyOrder
          ? i.order !== undefined
          : i.order === field.order,
    );
    if (!served) {
      return (
        `needs a ${query.scope.toLowerCase()} single-field index on ${query.collectionGroup}.` +
        `${field.fieldPath} (${field.arrayConfig ?? field.order})` +
        (override ? ', which a field override in firestore.indexes.json removes' : '')
      );
    }
  }
  return undefined;
}
