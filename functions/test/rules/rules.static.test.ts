import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accessMatrix, analyzeRules } from './rules-lint';

const RULES = readFileSync(join(__dirname, '..', '..', '..', 'firestore.rules'), 'utf8');

const VIEWERS = ['viewer', 'operator', 'admin'];

describe('firestore.rules (static)', () => {
  const analysis = analyzeRules(RULES);

  it('allows no client write, and no read without a signed-in user with a role', () => {
    expect(analysis.problems).toEqual([]);
    expect(analysis.rules.length).toBeGreaterThan(0);
  });

  it('lets viewers read the dashboard collections and only admins the audit log', () => {
    expect(accessMatrix(analysis)).toEqual([
      { path: '/providers/{provider}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/categories/{category}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/config/{document}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/collections/{collection}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/cooldowns/{provider}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/quotaAllocations/{provider}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/sales/{bucket}', methods: ['get', 'list'], roles: VIEWERS },
      { path: '/validationRuns/{run}', methods: ['get', 'list'], roles: VIEWERS },
      {
        path: '/validationRuns/{run}/findings/{product}',
        methods: ['get', 'list'],
        roles: VIEWERS,
      },
      { path: '/auditLog/{entry}', methods: ['get', 'list'], roles: ['admin'] },
    ]);
  });

  it('denies everything else, at any depth', () => {
    const catchAll = analysis.rules.find((r) => r.path.at(-1) === '/{document=**}');
    expect(catchAll).toMatchObject({ methods: ['read', 'write'], condition: 'false' });
  });
});

describe('the static check itself', () => {
  const wrap = (body: string) => `rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    function isViewer() {
      return request.auth != null && request.auth.token.get('role', '') in ['viewer', 'admin'];
    }
    ${body}
  }
}`;
  const problems = (body: string) => analyzeRules(wrap(body)).problems;

  it('accepts reads that need auth and a role, and writes that are false', () => {
    expect(problems('match /a/{id} { allow read: if isViewer(); allow write: if false; }')).toEqual(
      [],
    );
    expect(
      problems(
        "match /a/{id} { allow get: if request.auth != null && (request.auth.token.admin == true || request.auth.token.role == 'operator'); }",
      ),
    ).toEqual([]);
  });

  it.each([
    ['allow write: if isViewer();', /clients may not write/],
    ['allow create: if request.auth != null;', /clients may not write/],
    ['allow update, delete: if true;', /clients may not write/],
    ['allow read;', /no condition/],
    ['allow read: if true;', /request.auth != null/],
    ['allow read: if request.auth != null;', /role claim/],
    ["allow read: if request.auth.token.role == 'admin';", /request.auth != null/],
    ['allow read: if isViewer() || true;', /top level/],
    [
      "allow read: if request.auth != null && request.auth.token.get('role', '') != 'nobody';",
      /role claim/,
    ],
    [
      'allow list: if request.auth != null && (request.auth.token.admin == true || request.time != null);',
      /role claim/,
    ],
    ['allow read: if request.auth != null && isViewer() || true;', /top level/],
    ['allow fetch: if false;', /unknown method/],
  ])('refuses %s', (rule, problem) => {
    expect(problems(`match /a/{id} { ${rule} }`).join('\n')).toMatch(problem);
  });

  it('sees a rule hidden in a comment as no rule, and a rule after one as a rule', () => {
    expect(problems('match /a/{id} { // allow write: if true;\n }')).toEqual([]);
    expect(problems('match /a/{id} { /* x */ allow write: if true; }')).not.toEqual([]);
  });
});
