// What the browser tests share: a real vnet-controller on a temporary data
// directory and free ports, a small REST client, and Debian's Chromium
// driven by playwright-core (headless, no sandbox, no background
// networking: nothing leaves this machine).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
export const chromiumPath = process.env.VNET_CHROMIUM || '/usr/bin/chromium';
export const controllerBinary = process.env.VNET_CONTROLLER_BINARY || join(repo, 'build/main/controller/vnet-controller');
export const artifacts = process.env.VNET_WEB_ARTIFACTS || join(repo, 'build/main/web-artifacts');

export async function startController() {
  const dataDir = mkdtempSync(join(tmpdir(), 'vnet-web-'));
  const child = spawn(controllerBinary, ['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--southbound', '127.0.0.1:0',
    '--web-dir', join(repo, 'web'), '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`the controller did not start:\n${log}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = log.match(/listening api=[^ ]*:(\d+)/);
      if (m) { clearTimeout(timer); resolvePort(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the controller exited (${code}):\n${log}`)); });
  });
  const url = `http://127.0.0.1:${port}`;
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    url,
    adminToken,
    dataDir,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// A REST client for setting up what the test does not do through the forms.
export function client(url, token) {
  const call = async (method, path, body, headers = {}) => {
    const response = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return data;
  };
  return {
    call,
    create: (collection, body) => call('POST', `/api/v1/${collection}`, body),
    list: async (collection) => (await call('GET', `/api/v1/${collection}?limit=1000`)).items,
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--no-first-run', '--disable-features=Translate,MediaRouter,OptimizationHints'],
  });
}

// A page that records every console message and uncaught error.
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  // Anything but the controller is refused: the console must need no CDN.
  const outside = [];
  await context.route((u) => !u.href.startsWith(url), (route) => { outside.push(route.request().url()); return route.abort(); });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  await page.goto(url + '/');
  return { page, context, problems, outside };
}

export async function screenshot(page, name) {
  if (!existsSync(artifacts)) mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export async function signIn(page, secret) {
  await page.getByLabel('Token').fill(secret);
  await page.getByLabel('Token').press('Enter');  // the keyboard signs in
  await page.getByTestId('who').waitFor();
}
