import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FieldValue } from 'firebase-admin/firestore';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, dashboardSignInLink, signInWithRole } from '../../devstack/src/auth.ts';
import { collectionSchema } from '../../functions/src/core/pipeline/collection-schema.ts';
import { connectToStack, fireSchedule, stack } from '../../functions/test/e2e/support.ts';

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core), against the
 * local stack the e2e setup started: the Hosting emulator serves dashboard/dist, the page calls
 * the Functions emulator through @tollgate/client and signs in with the Auth emulator.
 */

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(import.meta.dirname, '..', '..');
// The README's screenshots are refreshed on request (UPDATE_SCREENSHOTS=1); a plain run writes
// its own under .tollgate/, so running the tests leaves the checkout as it was.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? join(ROOT, 'docs', 'screenshots')
  : join(ROOT, '.tollgate', 'screenshots');
const { db } = connectToStack();
const hosting = stack.urls.hosting!;
const authUrl = stack.urls.auth!;

const sessions: Array<{ context: BrowserContext; dir: string }> = [];
const users = {
  viewer: 'e2e-dashboard-viewer@tollgate.local',
  operator: 'e2e-dashboard-operator@tollgate.local',
  admin: 'e2e-dashboard-admin@tollgate.local',
};

async function misbehave(sandbox: string, mode: string) {
  const response = await fetch(`${stack.urls.control}/sandboxes/${sandbox}/misbehave`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode }),
  });
  expect(response.status).toBe(200);
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--metrics-recording-only',
  '--no-pings',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

/** Uncaught errors of every page, checked (and emptied) after each test. */
const pageErrors: string[] = [];

// A failed test prints what each open page showed: the refusal or state that explains it.
beforeEach((context) => {
  context.onTestFailed(async () => {
    for (const { context: browser } of sessions) {
      for (const page of browser.pages()) {
        const text = await page
          .evaluate(() => document.body.textContent ?? '')
          .catch((e: unknown) => `(unreadable: ${String(e)})`);
        process.stderr.write(`\n--- page ${page.url()} ---\n${text.slice(0, 4_000)}\n`);
      }
    }
  });
});

afterEach(() => {
  const errors = pageErrors.splice(0);
  expect(errors, 'uncaught page errors').toEqual([]);
});

/** A browser of its own (a fresh temporary profile: --user-data-dir) for one signed-in user. */
async function newPage(width = 1280): Promise<Page> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width, height: 900 },
  });
  sessions.push({ context, dir });
  // Generous: a callable's first call waits for the emulator to start its worker, which on a
  // loaded 2-core machine (the demo's proxy work, unit tests beside) took 59 s in CI. The
  // emulator allows a worker 120 s to load (FUNCTIONS_DISCOVERY_TIMEOUT, devstack).
  context.setDefaultTimeout(150_000);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (dialog) => void dialog.accept());
  page.on('pageerror', (error) => {
    console.error(`page error: ${error.message}`);
    pageErrors.push(error.message);
  });
  return page;
}

async function noHorizontalOverflow(page: Page, width: number) {
  await page.setViewportSize({ width, height: 900 });
  await page.waitForTimeout(150);
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(scrollWidth, `page width at ${width} px`).toBeLessThanOrEqual(innerWidth);
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (o: unknown) => Promise<unknown> } }).axe;
    const result = (await axe.run({ resultTypes: ['violations'] })) as {
      violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
    };
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      where: v.nodes.map((n) => n.target.join(' ')).slice(0, 3),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.where.join(', ')}`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  }
  expect(readFileSync(join(ROOT, 'dashboard', 'dist', 'index.html'), 'utf8')).toContain('<script');
  await signInWithRole(authUrl, stack.projectId, users.viewer, 'viewer');
  await signInWithRole(authUrl, stack.projectId, users.operator, 'operator');
  await signInWithRole(authUrl, stack.projectId, users.admin, 'admin');
  // Progress is reported within 2 s (3 products or 60 s by default), so the bars move.
  await db
    .doc('config/pipeline')
    .set({ collections: { progressFlushSeconds: 2 } }, { merge: true });
  // The seed's historical collection runs (another e2e file may have left it paused).
  await db.doc('collections/buckcheap-historical').update({ status: 'running' });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  for (const { context, dir } of sessions) {
    await context.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  await misbehave('site', 'none');
});

describe('the dashboard in Chromium', { timeout: 420_000 }, () => {
  it('signed out: a sign-in screen; a viewer sees everything and no control; accessible at 1280 and 390 px', async () => {
    const page = await newPage();
    await page.goto(`${hosting}/`);
    await page.getByRole('form', { name: 'Sign in' }).waitFor();
    // The public status through Hosting's /api/health rewrite to the health function.
    await expect
      .poll(() => page.getByTestId('public-health').textContent(), { timeout: 20_000 })
      .toMatch(/^(ok|degraded)$/);
    await page.getByLabel('Email').fill(users.viewer);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.overview[data-ready="true"]').waitFor();
    expect(await page.getByTestId('role').textContent()).toBe('viewer');
    await page.locator('[data-collection="buckcheap-historical"]').waitFor();
    for (const name of ['Pause', 'Resume', 'Set share', 'Clear cooldown', 'Restart collection']) {
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    }
    expect(await page.getByRole('button', { name: /maintenance/ }).count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await noHorizontalOverflow(page, 1280);
    await noHorizontalOverflow(page, 390);
    for (const view of ['providers', 'allocation', 'collections', 'usage', 'health', 'audit']) {
      await page.goto(`${hosting}/#/${view}`);
      await page.locator('main h2').first().waitFor();
      if (view === 'usage') await page.locator('.uplot canvas').first().waitFor();
      await page.waitForTimeout(300);
      await noHorizontalOverflow(page, 390);
    }
    await page.context().close();
  });

  let operator: Page;

  it('an operator signs in by the local link, first render measured; the demo collection progresses', async () => {
    operator = await newPage();
    const started = Date.now();
    await operator.goto(dashboardSignInLink(hosting, users.operator));
    await operator.locator('.overview[data-ready="true"]').waitFor();
    const firstRenderMs = await operator.evaluate(() => window.__tollgateFirstRenderMs ?? null);
    console.log(
      `dashboard first render of the overview: ${firstRenderMs?.toFixed(0)} ms after navigation start (sign-in by link and the first getStatus included; wall ${Date.now() - started} ms)`,
    );
    expect(operator.url()).not.toContain('password');
    // Opened again, signed in already (the session persists): the usual first render.
    await operator.reload();
    await operator.locator('.overview[data-ready="true"]').waitFor();
    const againMs = await operator.evaluate(() => window.__tollgateFirstRenderMs ?? null);
    console.log(
      `dashboard first render of the overview, signed in already: ${againMs?.toFixed(0)} ms`,
    );
    expect(await operator.getByTestId('role').textContent()).toBe('operator');
    expect(await operator.getByRole('button', { name: 'Pause' }).count()).toBeGreaterThan(0);

    const overall = operator.locator(
      '[data-collection="buckcheap-historical"] [data-testid="overall"]',
    );
    await overall.waitFor();
    const before = Number((await overall.textContent())!.split('/')[0]!.replace(/,/g, ''));
    expect(await fireSchedule('collectionBatches')).toBe(200);
    await expect
      .poll(async () => Number((await overall.textContent())!.split('/')[0]!.replace(/,/g, '')), {
        timeout: 60_000,
        interval: 1_000,
      })
      .toBeGreaterThan(before);
    await operator.screenshot({ path: join(SCREENSHOTS, 'overview.png'), fullPage: true });
    // With the operator's controls, at both widths.
    expect(await seriousViolations(operator)).toEqual([]);
    await noHorizontalOverflow(operator, 390);
    expect(await seriousViolations(operator)).toEqual([]);
    await noHorizontalOverflow(operator, 1280);
    await operator.goto(`${hosting}/#/collections/buckcheap-historical`);
    await operator.locator('.collection-page').waitFor();
    await operator.getByRole('progressbar', { name: 'buckcheap-historical overall' }).waitFor();
    expect(await operator.locator('.phases li[aria-current="step"]').count()).toBe(1);
    // The phase timeline from the collection's own history: when the current phase began.
    const current = operator.locator('.phases li[aria-current="step"]');
    expect(await current.getAttribute('data-entered')).toBe('true');
    expect(await current.textContent()).toMatch(/began \d{4}-\d\d-\d\d .* in phase/);
    await operator.screenshot({ path: join(SCREENSHOTS, 'collection.png'), fullPage: true });
    expect(await seriousViolations(operator)).toEqual([]);
  });

  it('the collections view lists every collection (listCollections); providers show the heartbeat', async () => {
    // Every stored collection, not only those named after a category (other e2e files add some).
    // A document another file left unreadable on purpose is reported apart, not shown as a card.
    const readable = (await db.collection('collections').get()).docs.filter(
      (d) => collectionSchema.safeParse(d.data()).success,
    ).length;
    await operator.goto(`${hosting}/#/collections`);
    await operator.locator('main [data-collection="buckcheap-historical"]').waitFor();
    await expect
      .poll(() => operator.locator('main article[data-collection]').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(Math.min(readable, 100));
    await operator.goto(`${hosting}/#/providers`);
    await operator.getByTestId('heartbeat').waitFor();
    expect(await operator.getByTestId('heartbeat').textContent()).toMatch(/^Heartbeat: /);
  });

  it('the price site answers 429: the cooldown appears with its countdown and clears when it ends', async () => {
    // A short cooldown: the site's Retry-After (60 s) capped by the provider's bound, and the
    // provider's default (without a Retry-After) as short.
    const provider = db.doc('providers/smartproxy');
    const saved = (await provider.get()).data()!;
    await provider.update({ maxRetryAfterSeconds: 8, cooldownSeconds: 8 });
    // The functions' configuration cache (a few seconds) sees the new bounds first.
    await new Promise((r) => setTimeout(r, 6_000));
    await operator.goto(`${hosting}/#/providers`);
    await operator.getByTestId('no-cooldown-smartproxy').waitFor();
    await misbehave('site', '429');
    expect(await fireSchedule('collectionBatches')).toBe(200);
    const cooldown = operator.getByTestId('cooldown-smartproxy');
    await cooldown.waitFor({ timeout: 60_000 });
    await misbehave('site', 'none');
    const seconds = async () =>
      Number(/(\d+) s/.exec((await cooldown.locator('.countdown').textContent()) ?? '')?.[1]);
    const first = await seconds();
    console.log(`cooldown shown: ${await cooldown.textContent()}`);
    expect(await cooldown.textContent()).toMatch(/caused by/);
    await operator.waitForTimeout(2_100);
    if (await cooldown.isVisible()) expect(await seconds()).toBeLessThan(first);
    await operator.getByTestId('no-cooldown-smartproxy').waitFor({ timeout: 45_000 });
    await provider.update({
      maxRetryAfterSeconds: saved.maxRetryAfterSeconds ?? FieldValue.delete(),
      cooldownSeconds: saved.cooldownSeconds ?? FieldValue.delete(),
    });
  });

  it('pausing a category moves its share to the others and lists its audit entry', async () => {
    await operator.goto(`${hosting}/#/allocation`);
    const row = (id: string) =>
      operator.locator(`.alloc[data-provider="smartproxy"] tr[data-category="${id}"]`);
    const effective = async (id: string) =>
      Number.parseFloat((await row(id).getByTestId('effective').textContent()) ?? 'NaN');
    await row('proxy-live-prices').waitFor();
    const before = await effective('buckcheap-historical');
    await row('proxy-live-prices').getByRole('button', { name: 'Pause' }).click();
    await row('proxy-live-prices').getByText('paused', { exact: true }).waitFor();
    await expect
      .poll(() => effective('buckcheap-historical'), { timeout: 15_000 })
      .toBeGreaterThan(before);
    expect(await effective('proxy-live-prices')).toBe(0);
    await operator.goto(`${hosting}/#/audit`);
    const entry = operator.locator('tr[data-what="pauseCategory"]');
    await entry.waitFor();
    expect(await entry.textContent()).toContain('categories/proxy-live-prices');
    expect(await entry.textContent()).toMatch(/active, effective [\d.]+%\s*paused/);
    expect(await entry.locator('code').textContent()).toMatch(/^\w{10,}$/);
    const auditId = await entry.locator('code').textContent();
    // An admin sees the stored entry in the audit log itself (listAuditLog), with who did it.
    const admin = await newPage();
    await admin.goto(dashboardSignInLink(hosting, users.admin));
    await admin.locator('.overview[data-ready="true"]').waitFor();
    await admin.goto(`${hosting}/#/audit`);
    const stored = admin.locator(`tr[data-audit-id="${auditId}"]`);
    await stored.waitFor();
    expect(await stored.getAttribute('data-entry-what')).toBe('pauseCategory');
    expect(await stored.textContent()).toContain('categories/proxy-live-prices');
    expect(await stored.textContent()).toContain(users.operator);
    expect(await seriousViolations(admin)).toEqual([]);
    await noHorizontalOverflow(admin, 390);
    await admin.context().close();
    // Back as it was.
    await operator.goto(`${hosting}/#/allocation`);
    await row('proxy-live-prices').getByRole('button', { name: 'Resume' }).click();
    await row('proxy-live-prices').getByRole('button', { name: 'Pause' }).waitFor();
  });

  it('replay: the recorded demand under a proposed share, side by side; a refused proposal names its field', async () => {
    await operator.goto(`${hosting}/#/replay`);
    const form = operator.locator('.replay-form');
    await form.waitFor();
    await form.locator('select').nth(1).selectOption('smartproxy');
    const share = operator.getByLabel('proposed share of buckcheap-historical');
    await share.fill('10');
    await operator.getByRole('button', { name: 'Replay', exact: true }).click();
    const summary = operator.locator('.replay-result [role="status"]');
    await summary.waitFor({ timeout: 120_000 });
    expect(await summary.textContent()).toContain('Changes: categories/buckcheap-historical');
    const categories = operator.getByTestId('replay-categories');
    expect(await categories.textContent()).toContain('smartproxy/');
    expect(await categories.textContent()).toContain('→');
    expect(await seriousViolations(operator)).toEqual([]);
    await noHorizontalOverflow(operator, 390);

    // The configuration refuses it (the provider past 100%): the callable names the field.
    await share.fill('95');
    await operator.getByRole('button', { name: 'Replay', exact: true }).click();
    const alert = operator.locator('.card [role="alert"]');
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.textContent()).toMatch(/Refused \(invalid-argument\)/);
    expect(await alert.locator('[data-field$=".sharePercent"]').count()).toBe(1);
    // Unreadable documents are named in the page, and nothing is sent.
    await share.fill('');
    await operator.locator('.replay-form textarea').fill('{"flags": ');
    await operator.getByRole('button', { name: 'Replay', exact: true }).click();
    await alert.locator('[data-field="documents"]').waitFor();
  });

  it('refused actions show their field errors; a share cannot push a provider past 100%', async () => {
    await operator.goto(`${hosting}/#/allocation`);
    const row = operator.locator(
      '.alloc[data-provider="smartproxy"] tr[data-category="buckcheap-historical"]',
    );
    await row.waitFor();
    await row.getByRole('spinbutton').fill('99');
    expect(await row.getByRole('button', { name: 'Set share' }).isDisabled()).toBe(true);
    expect(await row.textContent()).toMatch(/at most [\d.]+% \(the provider would pass 100%\)/);
    // An empty box is not a share of 0 (which would pause the category).
    await row.getByRole('spinbutton').fill('');
    expect(await row.getByRole('button', { name: 'Set share' }).isDisabled()).toBe(true);

    await operator.goto(`${hosting}/#/collections`);
    await operator.getByText('Start a collection').click();
    await operator.getByLabel('Id', { exact: true }).fill('Not an id!');
    await operator.getByLabel('Category').selectOption('buckcheap-historical');
    await operator.getByLabel('Targets').fill('takealot=0');
    await operator.getByRole('button', { name: 'Start collection' }).click();
    const alert = operator.locator('.start [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Refused \(invalid-argument\)/);
    expect(await alert.locator('[data-field="id"]').count()).toBe(1);
    expect(await alert.locator('[data-field="targets.takealot"]').count()).toBe(1);

    // Refused by the function itself: restarting a collection that does not exist.
    await operator.goto(`${hosting}/#/collections/no-such-collection`);
    await operator.locator('main [role="alert"]').waitFor();
    expect(await operator.locator('main [role="alert"]').textContent()).toMatch(/not-found/);
    await operator.context().close();
  });
});
