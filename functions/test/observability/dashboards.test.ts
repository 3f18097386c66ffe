import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { metricsRegistry } from '../../src/adapters/observability/metrics';
import { renderMetrics } from '../../src/adapters/observability/state-metrics';
import { metricsHandler } from '../../src/entry/observability/metrics';
import { FakeQueueAdmin } from '../api/support';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * The Grafana dashboard and the Prometheus alert rules in ops/ are loaded and checked: their
 * structure, each expression's syntax (balanced brackets, known functions, well-formed label
 * matchers, no dangling operator), and every metric and label they name against what the
 * `metrics` function actually serves (its handler is asked for the exposition, and the metric
 * names are read from it). A rule or panel naming a metric that does not exist fails here.
 */

quietLogger();

const OPS = join(__dirname, '..', '..', '..', 'ops');
const RULES_FILE = join(OPS, 'prometheus', 'tollgate-alerts.yml');
const DASHBOARD_FILE = join(OPS, 'grafana', 'tollgate-dashboard.json');

// ---- A small PromQL checker -------------------------------------------------------------

/** PromQL's functions and aggregation operators. */
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh',
  'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh',
  'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'deg',
  'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta',
  'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2',
  'max_over_time', 'min_over_time', 'minute', 'month', 'pi', 'predict_linear',
  'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn',
  'sin', 'sinh', 'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time',
  'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
  // aggregations
  'avg', 'bottomk', 'count', 'count_values', 'group', 'max', 'min', 'quantile', 'stddev',
  'stdvar', 'sum', 'topk',
]); // biome-ignore format: one list
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);
const MATCH_OPS = new Set(['=', '!=', '=~', '!~']);
/** Grafana's built-in variables a dashboard query may use. */
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__range_s']);

type TokenKind = 'id' | 'num' | 'dur' | 'str' | 'var' | 'op' | 'open' | 'close' | 'comma';
interface Token {
  kind: TokenKind;
  text: string;
}

function lex(expr: string): { tokens: Token[]; problems: string[] } {
  const tokens: Token[] = [];
  const problems: string[] = [];
  const rules: Array<[TokenKind | 'skip', RegExp]> = [
    ['skip', /^(\s+|#[^\n]*)/],
    ['str', /^("(\\.|[^"\\])*"|'(\\.|[^'\\])*'|`[^`]*`)/],
    ['var', /^\$(\{[A-Za-z_]\w*(:\w+)?\}|[A-Za-z_]\w*)/],
    ['dur', /^(\d+(ms|[smhdwy]))+(?![\w.])/],
    ['num', /^(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][+-]?\d+)?|\.\d+)/],
    ['id', /^[A-Za-z_][\w:]*/],
    ['op', /^(==|!=|<=|>=|=~|!~|[-+*/%^<>=:@])/],
    ['open', /^[({[]/],
    ['close', /^[)}\]]/],
    ['comma', /^,/],
  ];
  let rest = expr;
  while (rest.length > 0) {
    const rule = rules.find(([, re]) => re.test(rest));
    if (!rule) {
      problems.push(`unexpected character "${rest[0]}"`);
      rest = rest.slice(1);
      continue;
    }
    const text = rule[1].exec(rest)![0];
    if (rule[0] !== 'skip') tokens.push({ kind: rule[0], text });
    rest = rest.slice(text.length);
  }
  return { tokens, problems };
}

interface ExprCheck {
  problems: string[];
  metrics: Set<string>;
  variables: Set<string>;
}

/** Served metric name -> its label names. */
type Served = Map<string, Set<string>>;

/**
 * Checks one PromQL expression: brackets balance, every called name is a PromQL function,
 * label matchers are `name op "string"`, no operator dangles or doubles up, and every metric
 * and label it names is served (labels of a selector by that metric, grouping labels by some
 * metric of the expression).
 */
function checkPromQL(expr: string, served: Served): ExprCheck {
  const { tokens, problems } = lex(expr);
  const metrics = new Set<string>();
  const variables = new Set<string>();
  const grouping: string[] = [];
  if (tokens.length === 0) problems.push('empty expression');
  const stack: Array<{ open: string; kind: 'paren' | 'group' | 'selector' | 'range' }> = [];
  let selectorMetric: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    const top = stack.at(-1);
    switch (t.kind) {
      case 'open': {
        if (t.text === '(') {
          const kind = prev?.kind === 'id' && GROUPING.has(prev.text) ? 'group' : 'paren';
          stack.push({ open: '(', kind });
          if (next?.kind === 'close' && kind === 'paren' && prev?.kind !== 'id') {
            problems.push('empty parentheses');
          }
        } else if (t.text === '{') {
          selectorMetric = prev?.kind === 'id' && metrics.has(prev.text) ? prev.text : undefined;
          stack.push({ open: '{', kind: 'selector' });
        } else {
          stack.push({ open: '[', kind: 'range' });
          if (next?.kind !== 'dur' && next?.kind !== 'var')
            problems.push('a range needs a duration');
        }
        break;
      }
      case 'close': {
        const opened = stack.pop();
        const want = { ')': '(', '}': '{', ']': '[' }[t.text];
        if (!opened) problems.push(`unbalanced "${t.text}"`);
        else if (opened.open !== want) problems.push(`"${opened.open}" closed by "${t.text}"`);
        break;
      }
      case 'id': {
        if (top?.kind === 'selector' && prev?.kind === 'op' && MATCH_OPS.has(prev.text)) {
          // A matcher's value that is not a string (reported at its label).
        } else if (top?.kind === 'selector') {
          // A label matcher: name, operator, string.
          if (!(prev?.kind === 'open' || prev?.kind === 'comma')) {
            problems.push(`label matcher expected before "${t.text}"`);
          }
          if (!(next?.kind === 'op' && MATCH_OPS.has(next.text))) {
            problems.push(`label "${t.text}" has no matcher operator`);
          } else if (tokens[i + 2]?.kind !== 'str') {
            problems.push(`label "${t.text}" must be matched against a string`);
          }
          if (selectorMetric && !served.get(selectorMetric)?.has(t.text) && t.text !== '__name__') {
            problems.push(`${selectorMetric} has no label "${t.text}"`);
          }
        } else if (top?.kind === 'group') {
          grouping.push(t.text);
        } else if (GROUPING.has(t.text)) {
          if (next?.text !== '(') problems.push(`"${t.text}" needs a label list`);
        } else if (KEYWORDS.has(t.text.toLowerCase())) {
          // Operators and modifiers.
        } else if (next?.text === '(' || next?.text === 'by' || next?.text === 'without') {
          // A call, or an aggregation with its grouping first: `sum by (x) (...)`.
          if (!FUNCTIONS.has(t.text)) problems.push(`unknown function "${t.text}"`);
        } else {
          metrics.add(t.text);
        }
        break;
      }
      case 'op': {
        if (top?.kind === 'selector') {
          if (!MATCH_OPS.has(t.text)) problems.push(`"${t.text}" in a label matcher`);
          break;
        }
        if (t.text === ':' && top?.kind !== 'range') problems.push('":" outside a subquery');
        const unary = t.text === '-' || t.text === '+';
        const afterOperand =
          prev !== undefined &&
          (prev.kind === 'id' ||
            prev.kind === 'num' ||
            prev.kind === 'dur' ||
            prev.kind === 'str' ||
            prev.kind === 'var' ||
            prev.kind === 'close');
        if (!afterOperand && !unary) problems.push(`operator "${t.text}" has no left operand`);
        if (next === undefined) problems.push(`expression ends with operator "${t.text}"`);
        break;
      }
      case 'var': {
        variables.add(t.text.replace(/^\$\{?/, '').replace(/(:\w+)?\}$/, ''));
        break;
      }
      case 'str': {
        // Dashboard variables interpolated into label values.
        for (const m of t.text.matchAll(/\$\{?([A-Za-z_]\w*)/g)) variables.add(m[1]!);
        break;
      }
      default:
        break;
    }
  }
  for (const opened of stack) problems.push(`unclosed "${opened.open}"`);
  for (const metric of metrics) {
    if (!served.has(metric)) problems.push(`metric "${metric}" is not served`);
  }
  for (const label of grouping) {
    const known = [...metrics].some((m) => served.get(m)?.has(label));
    if (!known) problems.push(`no metric of the expression has the label "${label}"`);
  }
  return { problems, metrics, variables };
}

// ---- Rules and dashboard checks -------------------------------------------------------------

const DURATION = /^(\d+(ms|[smhdwy]))+$/;
const SEVERITIES = new Set(['info', 'warning', 'critical']);
const RULE_KEYS = new Set(['alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function checkTemplate(text: string, where: string, problems: string[]): void {
  const opens = text.split('{{').length - 1;
  const closes = text.split('}}').length - 1;
  if (opens !== closes) problems.push(`${where}: unbalanced {{ }} in "${text}"`);
}

/** Problems of an alert rules file, and the metrics each alert names. */
function checkRules(
  doc: unknown,
  served: Served,
): { problems: string[]; alerts: Map<string, Set<string>> } {
  const problems: string[] = [];
  const alerts = new Map<string, Set<string>>();
  if (!isMap(doc) || !Array.isArray(doc.groups) || doc.groups.length === 0) {
    return { problems: ['no groups'], alerts };
  }
  const groupNames = new Set<string>();
  for (const [g, group] of doc.groups.entries()) {
    if (!isMap(group) || typeof group.name !== 'string' || group.name === '') {
      problems.push(`groups[${g}]: no name`);
      continue;
    }
    if (groupNames.has(group.name)) problems.push(`group ${group.name}: name used twice`);
    groupNames.add(group.name);
    if (!Array.isArray(group.rules) || group.rules.length === 0) {
      problems.push(`group ${group.name}: no rules`);
      continue;
    }
    for (const [r, rule] of group.rules.entries()) {
      const where = `${group.name}.rules[${r}]`;
      if (!isMap(rule)) {
        problems.push(`${where}: not a map`);
        continue;
      }
      for (const key of Object.keys(rule)) {
        if (!RULE_KEYS.has(key)) problems.push(`${where}: unknown key "${key}"`);
      }
      if (typeof rule.alert !== 'string' || !/^[A-Z][A-Za-z0-9]+$/.test(rule.alert)) {
        problems.push(`${where}: alert must be a CamelCase name`);
        continue;
      }
      if (alerts.has(rule.alert)) problems.push(`${rule.alert}: defined twice`);
      if (typeof rule.expr !== 'string') {
        problems.push(`${rule.alert}: no expr`);
        continue;
      }
      const checked = checkPromQL(rule.expr, served);
      problems.push(...checked.problems.map((p) => `${rule.alert}: ${p}`));
      if (checked.variables.size > 0) problems.push(`${rule.alert}: uses dashboard variables`);
      alerts.set(rule.alert, checked.metrics);
      if (typeof rule.for !== 'string' || !DURATION.test(rule.for)) {
        problems.push(`${rule.alert}: "for" must be a duration`);
      }
      if (!isMap(rule.labels) || !SEVERITIES.has(String(rule.labels.severity))) {
        problems.push(`${rule.alert}: labels.severity must be info, warning or critical`);
      }
      if (
        !isMap(rule.annotations) ||
        typeof rule.annotations.summary !== 'string' ||
        typeof rule.annotations.description !== 'string'
      ) {
        problems.push(`${rule.alert}: annotations need a summary and a description`);
      } else {
        for (const [k, v] of Object.entries(rule.annotations)) {
          checkTemplate(String(v), `${rule.alert}.annotations.${k}`, problems);
        }
      }
    }
  }
  return { problems, alerts };
}

interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { h?: unknown; w?: unknown; x?: unknown; y?: unknown };
  datasource?: unknown;
  targets?: Array<{ refId?: unknown; expr?: unknown }>;
  panels?: Panel[];
}

/** Problems of a dashboard, and the metrics each panel names (by title). */
function checkDashboard(
  doc: unknown,
  served: Served,
): { problems: string[]; panels: Map<string, Set<string>> } {
  const problems: string[] = [];
  const panelMetrics = new Map<string, Set<string>>();
  if (!isMap(doc)) return { problems: ['not a dashboard object'], panels: panelMetrics };
  for (const key of ['title', 'uid']) {
    if (typeof doc[key] !== 'string' || doc[key] === '') problems.push(`no ${key}`);
  }
  if (typeof doc.schemaVersion !== 'number') problems.push('no schemaVersion');
  if (!Array.isArray(doc.panels) || doc.panels.length === 0) problems.push('no panels');
  const variables = new Set<string>(GRAFANA_BUILTINS);
  const templating =
    isMap(doc.templating) && Array.isArray(doc.templating.list)
      ? (doc.templating.list as Array<Record<string, unknown>>)
      : [];
  for (const v of templating) {
    if (typeof v.name !== 'string') {
      problems.push('a template variable has no name');
      continue;
    }
    variables.add(v.name);
    const query = isMap(v.query) ? v.query.query : v.query;
    const labelValues = typeof query === 'string' && /^label_values\((\w+),\s*(\w+)\)$/.exec(query);
    if (v.type === 'query') {
      if (!labelValues) problems.push(`variable ${v.name}: expected label_values(metric, label)`);
      else if (!served.get(labelValues[1]!)?.has(labelValues[2]!)) {
        problems.push(
          `variable ${v.name}: ${labelValues[1]} has no served label ${labelValues[2]}`,
        );
      }
    }
  }
  const ids = new Set<unknown>();
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      const title = typeof panel.title === 'string' ? panel.title : `panel ${String(panel.id)}`;
      if (typeof panel.id !== 'number' || ids.has(panel.id))
        problems.push(`${title}: id missing or repeated`);
      ids.add(panel.id);
      if (typeof panel.type !== 'string') problems.push(`${title}: no type`);
      const g = panel.gridPos;
      if (
        !g ||
        ![g.h, g.w, g.x, g.y].every(
          (n) => typeof n === 'number' && Number.isInteger(n) && n >= 0,
        ) ||
        (g.x as number) + (g.w as number) > 24
      ) {
        problems.push(`${title}: gridPos must be whole numbers inside 24 columns`);
      }
      if (panel.type === 'row') {
        walk(panel.panels ?? []);
        continue;
      }
      if (!Array.isArray(panel.targets) || panel.targets.length === 0) {
        problems.push(`${title}: no targets`);
        continue;
      }
      const refIds = new Set<unknown>();
      const metrics = new Set<string>();
      for (const target of panel.targets) {
        if (typeof target.refId !== 'string' || refIds.has(target.refId)) {
          problems.push(`${title}: refId missing or repeated`);
        }
        refIds.add(target.refId);
        if (typeof target.expr !== 'string') {
          problems.push(`${title}: a target has no expr`);
          continue;
        }
        const checked = checkPromQL(target.expr, served);
        problems.push(...checked.problems.map((p) => `${title}: ${p}`));
        for (const v of checked.variables) {
          if (!variables.has(v)) problems.push(`${title}: undefined variable $${v}`);
        }
        for (const m of checked.metrics) metrics.add(m);
      }
      panelMetrics.set(title, metrics);
    }
  };
  walk((doc.panels as Panel[]) ?? []);
  return { problems, panels: panelMetrics };
}

// ---- What the metrics function serves ------------------------------------------------------

/** Metric names from a Prometheus text exposition (`# TYPE` lines, with their series names). */
function namesOf(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const match = /^# TYPE (\S+) (\w+)$/.exec(line);
    if (!match) continue;
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

let db: Firestore;
let close: () => Promise<void>;
let served: Served;
let rules: unknown;
let dashboard: unknown;

beforeAll(async () => {
  ({ db, close } = testFirestore());
  const admin = new FakeQueueAdmin(['keepaWork']);
  // The metrics function's handler, with a token, as a scrape reaches it.
  const handler = metricsHandler({
    token: () => 'scrape-token',
    emulated: () => false,
    render: () => renderMetrics(db, Date.now(), { admin, queues: ['keepaWork'] }),
  });
  let body = '';
  let status = 0;
  const res = {
    status(code: number) {
      status = code;
      return res;
    },
    set() {
      return res;
    },
    send(text: string) {
      body = text;
    },
  };
  await handler(
    { get: (h: string) => (h === 'authorization' ? 'Bearer scrape-token' : undefined) },
    res,
  );
  expect(status).toBe(200);
  const names = namesOf(body);
  // Label names come from the registry the exposition was rendered from.
  served = new Map(
    [...names].map((name) => {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const metric = (metricsRegistry.getSingleMetric(name) ??
        metricsRegistry.getSingleMetric(base)) as { labelNames?: readonly string[] } | undefined;
      const labels = new Set<string>(metric?.labelNames ?? []);
      if (name.endsWith('_bucket')) labels.add('le');
      return [name, labels];
    }),
  );
  rules = parseYaml(readFileSync(RULES_FILE, 'utf8'));
  dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
});
afterAll(() => close());

describe('the metrics the dashboard and alerts can use', () => {
  it('are read from what the metrics function serves', () => {
    expect(served.size).toBeGreaterThan(20);
    for (const name of [
      'tollgate_fleet_upstream_calls',
      'tollgate_fleet_upstream_latency_seconds',
      'tollgate_task_queue_oldest_overdue_seconds',
      'tollgate_cooldown_length_seconds',
      'tollgate_validation_pass_rate',
      'tollgate_firestore_self_quota_usage_ratio',
      'tollgate_upstream_calls_total',
    ]) {
      expect(served.has(name), name).toBe(true);
    }
    expect([...served.get('tollgate_fleet_upstream_calls')!].sort()).toEqual([
      'operation',
      'outcome',
      'provider',
    ]);
  });
});

describe('ops/prometheus/tollgate-alerts.yml', () => {
  it('is well-formed, and every expression parses and names served metrics and labels', () => {
    const { problems, alerts } = checkRules(rules, served);
    expect(problems).toEqual([]);
    expect(alerts.size).toBeGreaterThanOrEqual(5);
  });

  it('alerts on the quota-error rate, backlog age, cooldown length, validation and self-quota', () => {
    const { alerts } = checkRules(rules, served);
    const named = (metric: string) => [...alerts.values()].some((m) => m.has(metric));
    expect(named('tollgate_fleet_upstream_calls')).toBe(true);
    expect(
      (rules as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups
        .flatMap((g) => g.rules)
        .some((r) => r.expr.includes('outcome="quota"')),
    ).toBe(true);
    expect(named('tollgate_task_queue_oldest_overdue_seconds')).toBe(true);
    expect(named('tollgate_cooldown_length_seconds')).toBe(true);
    expect(named('tollgate_validation_pass_rate')).toBe(true);
    expect(named('tollgate_firestore_self_quota_usage_ratio')).toBe(true);
  });

  it('fails a rule that names a metric the function does not serve', () => {
    const broken = structuredClone(rules) as { groups: Array<{ rules: unknown[] }> };
    broken.groups[0]!.rules.push({
      alert: 'TollgateGhost',
      expr: 'tollgate_ghost_metric_total > 0',
      for: '5m',
      labels: { severity: 'warning' },
      annotations: { summary: 's', description: 'd' },
    });
    expect(checkRules(broken, served).problems).toEqual([
      'TollgateGhost: metric "tollgate_ghost_metric_total" is not served',
    ]);
  });
});

describe('ops/grafana/tollgate-dashboard.json', () => {
  it('is a dashboard whose panels query served metrics with valid PromQL', () => {
    const { problems } = checkDashboard(dashboard, served);
    expect(problems).toEqual([]);
  });

  it('has panels for quota, upstreams, latency, queues, cooldowns, validation and self-quota', () => {
    const { panels } = checkDashboard(dashboard, served);
    const shown = (metric: string) => [...panels.values()].some((m) => m.has(metric));
    for (const metric of [
      'tollgate_usage_recent',
      'tollgate_fleet_upstream_calls',
      'tollgate_fleet_upstream_latency_seconds',
      'tollgate_task_queue_tasks',
      'tollgate_task_queue_oldest_overdue_seconds',
      'tollgate_queue_oldest_age_seconds',
      'tollgate_cooldown_remaining_seconds',
      'tollgate_cooldown_length_seconds',
      'tollgate_validation_pass_rate',
      'tollgate_firestore_self_quota_usage_ratio',
    ]) {
      expect(shown(metric), metric).toBe(true);
    }
  });

  it('fails a panel querying a metric or a label that does not exist', () => {
    const broken = structuredClone(dashboard) as { panels: Panel[] };
    const panel = broken.panels.find((p) => p.type !== 'row')!;
    panel.targets = [
      { refId: 'A', expr: 'sum(tollgate_ghost_gauge)' },
      { refId: 'B', expr: 'tollgate_cooldown_remaining_seconds{ghost="x"}' },
    ];
    expect(checkDashboard(broken, served).problems).toEqual([
      `${String(panel.title)}: metric "tollgate_ghost_gauge" is not served`,
      `${String(panel.title)}: tollgate_cooldown_remaining_seconds has no label "ghost"`,
    ]);
  });
});

describe('the PromQL check', () => {
  const problems = (expr: string) => checkPromQL(expr, served).problems;

  it('passes valid expressions', () => {
    for (const expr of [
      'sum by (provider) (rate(tollgate_upstream_calls_total{outcome!="ok"}[5m])) > 0.1',
      'max(tollgate_firestore_self_quota_multiplier) > 1',
      '-1 * tollgate_validation_pass_rate < bool 0.9',
      'sum(tollgate_fleet_upstream_calls) by (provider) / scalar(max(tollgate_fleet_window_minutes) * 60)',
      'max_over_time(tollgate_validation_pass_rate[1h:5m])',
      'tollgate_task_queue_tasks offset 5m',
    ]) {
      expect(problems(expr), expr).toEqual([]);
    }
  });

  it('fails broken expressions', () => {
    expect(problems('sum(rate(tollgate_upstream_calls_total[5m])')).toEqual(['unclosed "("']);
    expect(problems('sum(tollgate_upstream_calls_total))')).toEqual(['unbalanced ")"']);
    expect(problems('summ(tollgate_upstream_calls_total)')).toEqual(['unknown function "summ"']);
    expect(problems('tollgate_validation_pass_rate <')).toEqual([
      'expression ends with operator "<"',
    ]);
    expect(problems('tollgate_validation_pass_rate > > 1')).toEqual([
      'operator ">" has no left operand',
    ]);
    expect(problems('tollgate_cooldown_remaining_seconds{provider=keepa}')).toEqual([
      'label "provider" must be matched against a string',
    ]);
    expect(problems('rate(tollgate_upstream_calls_total[five])')).toContain(
      'a range needs a duration',
    );
    expect(problems('sum by (ghost) (tollgate_task_queue_tasks)')).toEqual([
      'no metric of the expression has the label "ghost"',
    ]);
    expect(problems('(tollgate_task_queue_tasks]')).toEqual(['"(" closed by "]"']);
    expect(problems('')).toEqual(['empty expression']);
  });
});
