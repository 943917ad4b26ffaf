// The console in a real browser against a real controller: an administrator
// and two tenants, forms with the server's validation errors, If-Match,
// isolation between tenants, the topology and a host's policy. Screenshots
// of each main view go to the build directory (VNET_WEB_ARTIFACTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startController, client, launch, openPage, screenshot, signIn } from './harness.mjs';

let controller;
let browser;
let admin;
const ids = {};

// Network errors the tests provoke on purpose (a 400 for a bad prefix, a
// 412 for a stale edit, a 404 for another tenant's id) are logged by
// Chromium as "Failed to load resource"; anything else is a defect.
function unexpected(problems, allowed) {
  return problems.filter((p) => !allowed.some((status) => p.includes(`Failed to load resource: the server responded with a status of ${status}`)));
}

before(async () => {
  controller = await startController();
  browser = await launch();
  admin = client(controller.url, controller.adminToken);
  const ln = await admin.create('logical-networks', { name: 'Datacenter' });
  ids.logicalNetwork = ln.id;
  const site = await admin.create('sites', { logical_network_id: ln.id, name: 'Seattle', subnets: [{ prefix: '192.168.1.0/24' }] });
  ids.host = (await admin.create('hosts', { name: 'host-a', site_id: site.id, pa: '192.168.1.11' })).id;
  await admin.create('ip-pools', { name: 'seattle-pas', site_id: site.id, subnet: '192.168.1.0/24', ranges: [{ start: '192.168.1.10', end: '192.168.1.19' }] });
  // An external network, its pool and a gateway host, for NAT gateways.
  const internet = await admin.create('logical-networks', { name: 'Internet', network_virtualization: false });
  const edge = await admin.create('sites', { logical_network_id: internet.id, name: 'Edge', subnets: [{ prefix: '203.0.113.0/24' }] });
  ids.externalPool = (await admin.create('ip-pools', { name: 'internet', site_id: edge.id, subnet: '203.0.113.0/24', gateway: '203.0.113.1', ranges: [{ start: '203.0.113.100', end: '203.0.113.120' }] })).id;
  await admin.create('hosts', { name: 'edge-a', site_id: site.id, pa: '192.168.1.50', external_interface: 'ext0' });
  // Contoso's grants are given through the form (the first test); Fabrikam's here.
  const contoso = await admin.create('tenants', { name: 'Contoso' });
  ids.contoso = contoso.id;
  const fabrikam = await admin.create('tenants', { name: 'Fabrikam', logical_network_ids: [ln.id] });
  ids.contosoToken = (await admin.create('tokens', { name: 'contoso-portal', tenant_id: contoso.id })).token;
  ids.fabrikamToken = (await admin.create('tokens', { name: 'fabrikam-portal', tenant_id: fabrikam.id })).token;
  // Fabrikam's network, made through the API: Contoso must never see it.
  const fab = client(controller.url, ids.fabrikamToken);
  const fabNet = await fab.create('vm-networks', { name: 'Fabrikam-Secret' });  // its one grant
  ids.fabrikamNetwork = fabNet.id;
  const fabSubnet = await fab.create('vm-subnets', { vm_network_id: fabNet.id, name: 'fab-subnet', prefix: '10.0.0.0/24' });
  await fab.create('ip-pools', { vm_subnet_id: fabSubnet.id, ranges: [{ start: '10.0.0.10', end: '10.0.0.20' }] });
  ids.fabrikamNic = (await fab.create('vm-nics', { vm_subnet_id: fabSubnet.id, vm_name: 'fab-vm' })).id;
});

after(async () => {
  await browser?.close();
  await controller?.stop();
});

test('an administrator signs in, sees the admin views and creates a logical network through the form', async () => {
  const { page, context, problems, outside } = await openPage(browser, controller.url);
  await signIn(page, controller.adminToken);
  assert.match(await page.getByTestId('who').textContent(), /Administrator/);
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const item of ['Hosts', 'Sites', 'Tenants', 'Tokens', 'MAC pools', 'Logical networks']) {
    assert.equal(await nav.getByRole('link', { name: item, exact: true }).count(), 1, item);
  }
  // The overview's counts come from /metrics; its chart is uPlot's.
  await page.getByTestId('counts').getByText('Hosts').waitFor();
  await page.locator('.uplot').first().waitFor();
  // Before the second sample the time axis already ends now, not in 1970.
  const axis = await page.evaluate(() => document.querySelector('.chart').uplot.scales.x);
  assert.ok(Math.abs(axis.max - Date.now() / 1000) < 60, JSON.stringify(axis));
  await page.getByTestId('hosts-realization').getByText('host-a').waitFor();
  await page.waitForTimeout(2500);  // a second sample draws a line
  await screenshot(page, 'admin-overview');

  // Keyboard: focus the menu link and press Enter.
  await nav.getByRole('link', { name: 'Logical networks' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Logical networks' }).waitFor();
  await page.getByRole('link', { name: /New logical network/ }).click();
  await page.getByLabel(/^Name/).fill('Storage');
  await page.getByLabel(/^Network virtualization/).uncheck();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'logical network Storage' }).waitFor();
  assert.equal(await page.locator('[data-field="network_virtualization"]').textContent(), 'no');
  const stored = (await admin.list('logical-networks')).find((l) => l.name === 'Storage');
  assert.equal(stored.network_virtualization, false);

  // Onboarding: grant Contoso the datacenter network and the internet pool
  // (checkboxes), then hand a new token over.
  await page.goto(`${controller.url}/#/tenants/${ids.contoso}`);
  await page.getByRole('button', { name: 'Edit' }).click();
  const networks = page.getByRole('group', { name: 'Logical networks granted' });
  await networks.getByLabel('Datacenter').check();
  assert.equal(await networks.getByLabel('Storage').isChecked(), false);
  await page.getByRole('group', { name: 'External pools granted' }).getByLabel('internet').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('[data-field="logical_network_ids"]').getByText('Datacenter').waitFor();
  assert.equal(await page.locator('[data-field="logical_network_ids"]').textContent(), 'Datacenter');
  assert.equal(await page.locator('[data-field="external_pool_ids"]').textContent(), 'internet');
  const granted = await admin.call('GET', `/api/v1/tenants/${ids.contoso}`);
  assert.deepEqual(granted.logical_network_ids, [ids.logicalNetwork]);
  assert.deepEqual(granted.external_pool_ids, [ids.externalPool]);
  await page.goto(`${controller.url}/#/tokens/new`);
  await page.getByLabel(/^Name/).fill('contoso-ops');
  await page.getByLabel(/^Tenant/).selectOption({ label: 'Contoso' });
  await page.getByRole('button', { name: 'Create' }).click();
  const secret = await page.getByTestId('secret').textContent();
  assert.match(secret, /^vnet_[0-9a-f]{64}$/);
  assert.equal(await page.getByTestId('handoff-url').textContent(), `${controller.url}/`);
  assert.equal(await page.getByTestId('handoff-env').textContent(), `export VNET_URL=${controller.url} VNET_TOKEN=${secret}`);
  await page.getByRole('button', { name: 'Copy the vnetctl environment' }).click();
  await screenshot(page, 'admin-token-handoff');
  ids.opsToken = secret;

  await page.goto(`${controller.url}/#/hosts`);
  await page.getByTestId('list-hosts').getByText('host-a').waitFor();
  assert.match(await page.getByTestId('list-hosts').textContent(), /192\.168\.1\.11/);
  assert.match(await page.getByTestId('list-hosts').textContent(), /not connected/);
  await screenshot(page, 'admin-hosts');
  // A site pool's used/free counts the hosts' PAs in it.
  await page.goto(`${controller.url}/#/ip-pools`);
  await page.getByTestId('list-ip-pools').getByText('seattle-pas').waitFor();
  assert.match(await page.getByTestId('list-ip-pools').textContent(), /seattle-pas.*1 \/ 9/s);
  assert.deepEqual(unexpected(problems, []), []);
  assert.deepEqual(outside, []);
  await context.close();
});

test('a tenant builds a network through the forms, sees the server\'s validation error by the field, and nothing of another tenant', async () => {
  const { page, context, problems, outside } = await openPage(browser, controller.url);
  await signIn(page, ids.contosoToken);
  assert.match(await page.getByTestId('who').textContent(), /Tenant Contoso/);
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.getByRole('link', { name: 'Hosts' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Tenants' }).count(), 0);

  // VM network: the form offers what the administrator granted, by name,
  // and the one grant is chosen already.
  await page.goto(`${controller.url}/#/vm-networks/new`);
  await page.getByLabel(/^Name/).fill('Blue');
  const ln = page.getByLabel(/^Logical network/);
  await ln.locator('option', { hasText: 'Datacenter' }).waitFor({ state: 'attached' });
  assert.equal(await ln.inputValue(), ids.logicalNetwork);
  assert.deepEqual(await ln.locator('option').allTextContents(), ['—', 'Datacenter']);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'VM network Blue' }).waitFor();
  ids.blue = page.url().split('/').pop();

  // "Add one" on the VM network opens the subnet form with it chosen.
  await page.getByRole('link', { name: 'Add one' }).click();
  await page.getByRole('heading', { name: 'New VM subnet' }).waitFor();
  await page.getByLabel(/^VM network/).locator('option', { hasText: 'Blue' }).waitFor({ state: 'attached' });
  assert.equal(await page.getByLabel(/^VM network/).inputValue(), ids.blue);
  // VM subnet with a bad prefix: the server's message, next to the field,
  // and its detail on top.
  await page.getByLabel(/^Name/).fill('web');
  await page.getByLabel(/^Prefix/).fill('10.0.0.1/24');
  await page.getByRole('button', { name: 'Create' }).click();
  const fieldError = page.locator('#f-prefix-error');
  await fieldError.waitFor();
  assert.match(await fieldError.textContent(), /host bits are set \(did you mean 10\.0\.0\.0\/24\?\)/);
  assert.match(await page.locator('form .error').textContent(), /Bad Request \/prefix: .*host bits are set.*\(one field: see below\)/);
  assert.equal(await page.getByLabel(/^Prefix/).getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'tenant-form-error');
  await page.getByLabel(/^Prefix/).fill('10.0.0.0/24');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'VM subnet web' }).waitFor();
  const vsid = await page.locator('[data-field="vsid"]').textContent();
  assert.match(vsid, /^\d+$/);
  assert.ok(Number(vsid) >= 4096);

  // CA pool and NIC through the forms (a tenant's IP pools are CA pools).
  await page.goto(`${controller.url}/#/ip-pools`);
  await page.getByRole('link', { name: 'New CA pool' }).click();
  await page.getByRole('heading', { name: 'New CA pool' }).waitFor();
  await page.getByLabel(/^VM subnet/).selectOption({ label: 'web' });
  await page.getByLabel(/^Ranges/).fill('10.0.0.10-10.0.0.19');
  await page.getByLabel(/^DNS/).fill('10.0.0.2');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('[data-field="ranges"]').waitFor();
  assert.equal(await page.locator('[data-field="ranges"]').textContent(), '10.0.0.10–10.0.0.19');
  await page.goto(`${controller.url}/#/vm-nics/new`);
  assert.equal(await page.getByLabel(/^Host/).count(), 0);  // placement is the administrator's
  await page.getByLabel(/^VM subnet/).selectOption({ label: 'web' });
  await page.getByLabel(/^VM name/).fill('web-1');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: /VM NIC web-1/ }).waitFor();
  assert.equal(await page.locator('[data-field="ip"]').textContent(), '10.0.0.10');
  assert.match(await page.getByTestId('unplaced').textContent(), /an administrator places it/);
  ids.nic = page.url().split('/').pop();

  // A NAT gateway with a port forwarding rule, through the form (the
  // external pool: the one granted, chosen already).
  await page.goto(`${controller.url}/#/gateways/new`);
  assert.equal(await page.getByLabel(/^Host/).count(), 0);  // placement is the controller's
  await page.getByLabel(/^Name/).fill('internet');
  await page.getByLabel(/^VM network/).selectOption({ label: 'Blue' });
  await page.getByLabel(/^Kind/).selectOption('nat');
  await page.getByLabel(/^External pool/).locator('option', { hasText: 'internet' }).waitFor({ state: 'attached' });
  assert.equal(await page.getByLabel(/^External pool/).inputValue(), ids.externalPool);
  assert.deepEqual(await page.getByLabel(/^External pool/).locator('option').allTextContents(), ['—', 'internet']);
  await page.getByLabel(/^NAT rules/).fill('tcp:8080=10.0.0.10:80');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('[data-field="external_ip"]').waitFor();
  assert.equal(await page.locator('[data-field="external_ip"]').textContent(), '203.0.113.100');
  assert.equal(await page.locator('[data-field="nat_rules"]').textContent(), 'tcp 8080 → 10.0.0.10:80');
  assert.match(await page.locator('main').textContent(), /host_not_connected/);

  // The CA pool shows used/free: one NIC, nine addresses left.
  await page.goto(`${controller.url}/#/ip-pools`);
  await page.getByTestId('list-ip-pools').waitFor();
  assert.match(await page.getByTestId('list-ip-pools').textContent(), /1 \/ 9/);

  // Nothing of Fabrikam's anywhere: lists, the topology, a direct link.
  for (const collection of ['vm-networks', 'vm-subnets', 'vm-nics', 'ip-pools']) {
    await page.goto(`${controller.url}/#/${collection}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.locator('table, .empty').first().waitFor();
    const body = await page.locator('main').textContent();
    assert.doesNotMatch(body, /Fabrikam|fab-/, collection);
    if (collection === 'vm-nics') await screenshot(page, 'tenant-vm-nics');
  }
  await page.goto(`${controller.url}/#/vm-networks/${ids.fabrikamNetwork}`);
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /Not Found/);
  await page.goto(`${controller.url}/#/topology`);
  await page.locator('.topology-list').getByText('Blue').waitFor();
  assert.doesNotMatch(await page.locator('main').textContent(), /Fabrikam|fab-/);

  await page.goto(`${controller.url}/#/`);
  await page.getByTestId('counts').waitFor();
  assert.match(await page.getByTestId('counts').textContent(), /1 VM networks/);
  await screenshot(page, 'tenant-overview');

  assert.deepEqual(unexpected(problems, [400, 404]), []);
  assert.deepEqual(outside, []);
  await context.close();
});

test('the administrator places the NIC, then sees it in the topology and in the host\'s policy', async () => {
  const { page, context, problems } = await openPage(browser, controller.url);
  await signIn(page, controller.adminToken);
  await page.goto(`${controller.url}/#/vm-nics/${ids.nic}`);
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel(/^Host/).selectOption({ label: 'host-a' });
  await page.getByLabel(/^Interface/).fill('tap-web1');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('button', { name: 'Edit' }).waitFor();
  // After the save the page watches the NIC: host-a has no agent, so it waits.
  await page.getByTestId('realization').getByText(/Waiting for host-a to apply it \(host_not_connected\)/).waitFor();
  assert.equal(await page.locator('[data-field="interface"]').textContent(), 'tap-web1');
  assert.equal(await page.locator('[data-field="host_id"]').textContent(), 'host-a');

  await page.goto(`${controller.url}/#/topology`);
  const drawing = page.getByTestId('topology').locator('canvas').first();
  await drawing.waitFor();
  const list = page.locator('.topology-list');
  await list.getByText('web-1').waitFor();
  assert.match(await list.textContent(), /web-1 10\.0\.0\.10 .* on host-a/s);
  assert.match(await list.textContent(), /Fabrikam-Secret/);  // the administrator sees every tenant
  assert.match(await list.textContent(), /host-a PA 192\.168\.1\.11 · not connected · policy/);  // spaces kept
  // fcose: no two top-level boxes (VM networks with their subnets, hosts)
  // overlap, and labels are readable (at least 9 px) at the fitted zoom.
  const layout = await page.evaluate(() => {
    const { cy } = document.querySelector('[data-testid="topology"]').vnetTopology;
    const tops = cy.nodes().filter((n) => !n.isChild()).map((n) => n.boundingBox({ includeLabels: true }));
    let overlaps = 0;
    for (let i = 0; i < tops.length; i++) {
      for (let j = i + 1; j < tops.length; j++) {
        const a = tops[i]; const b = tops[j];
        if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlaps++;
      }
    }
    return { overlaps, count: tops.length, label: cy.zoom() * 13, zoom: cy.zoom() };
  });
  assert.ok(layout.count >= 4, JSON.stringify(layout));
  assert.equal(layout.overlaps, 0, JSON.stringify(layout));
  assert.ok(layout.label >= 9, JSON.stringify(layout));
  await page.getByRole('button', { name: 'Zoom in' }).click();
  const zoomed = await page.evaluate(() => document.querySelector('[data-testid="topology"]').vnetTopology.cy.zoom());
  assert.ok(zoomed > layout.zoom * 1.2, `${zoomed} after ${layout.zoom}`);
  await page.getByRole('button', { name: 'Fit' }).click();
  await page.waitForTimeout(300);
  await screenshot(page, 'admin-topology');
  await list.getByRole('link', { name: 'policy' }).first().click();

  await page.getByRole('heading', { name: 'Policy on host-a' }).waitFor();
  const records = page.getByTestId('lookup-records');
  await records.waitFor();
  const recordText = await records.textContent();
  assert.match(recordText, /10\.0\.0\.10/);
  assert.match(recordText, /192\.168\.1\.11/);
  assert.match(recordText, /encap/);
  assert.match(await page.getByTestId('customer-routes').textContent(), /10\.0\.0\.0\/24/);
  assert.match(await page.getByTestId('ports').textContent(), /tap-web1/);
  await screenshot(page, 'admin-host-policy');

  // The overview's Problems panel: host-a has no agent, so it and the NIC
  // placed on it wait, each with its code; an unplaced NIC says so too.
  await page.goto(`${controller.url}/#/`);
  const panel = page.getByTestId('problems');
  await panel.waitFor();
  const text = await panel.textContent();
  assert.match(text, /host-a.*Host.*pending.*host_not_connected/s);
  assert.match(text, /web-1 on host-a.*VM NIC.*pending.*host_not_connected/s);
  assert.match(text, /fab-vm.*VM NIC.*pending.*not_placed/s);  // waits for an administrator
  await panel.getByRole('link', { name: 'web-1 on host-a' }).click();
  await page.getByRole('heading', { name: /VM NIC web-1/ }).waitFor();
  assert.deepEqual(unexpected(problems, []), []);
  await context.close();
});

test('an edit made elsewhere first is not overwritten: If-Match, and a clear message', async () => {
  const { page, context, problems } = await openPage(browser, controller.url);
  await signIn(page, ids.contosoToken);
  await page.goto(`${controller.url}/#/vm-networks/${ids.blue}`);
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel(/^Name/).fill('Blue-from-browser');
  // Meanwhile someone renames it through the API.
  const contoso = client(controller.url, ids.contosoToken);
  await contoso.call('PATCH', `/api/v1/vm-networks/${ids.blue}`, { name: 'Blue-from-api' });
  await page.getByRole('button', { name: 'Save' }).click();
  const stale = page.getByTestId('stale');
  await stale.waitFor();
  assert.match(await stale.textContent(), /Someone else changed this VM network after you opened it\. Your changes were not saved\. Load/);
  assert.equal((await contoso.call('GET', `/api/v1/vm-networks/${ids.blue}`)).name, 'Blue-from-api');
  await stale.getByRole('button', { name: 'Load the current version' }).click();
  await page.getByRole('heading', { name: 'VM network Blue-from-api' }).waitFor();
  await screenshot(page, 'tenant-vm-network');
  assert.deepEqual(unexpected(problems, [412]), []);
  await context.close();
});

test('deletes ask first, carry If-Match, and say what still uses the object', async () => {
  const { page, context, problems } = await openPage(browser, controller.url);
  await signIn(page, ids.contosoToken);
  // A route made through the form, then deleted through the page.
  await page.goto(`${controller.url}/#/routes/new`);
  await page.getByLabel(/^VM network/).selectOption({ label: 'Blue-from-api' });
  await page.getByLabel(/^Prefix/).fill('192.0.2.0/24');
  await page.getByLabel(/^Next hop/).fill('10.0.0.1');
  await page.getByRole('button', { name: 'Create' }).click();
  // The question is focused: Escape keeps the route, Enter deletes it.
  await page.getByRole('button', { name: 'Delete' }).click();
  let confirm = page.getByRole('alertdialog');
  await confirm.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Delete');
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Delete' }).click();
  confirm = page.getByRole('alertdialog');
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /This cannot be undone/);
  const routeId = page.url().split('/').pop();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('heading', { name: 'Routes' }).waitFor();
  const contoso = client(controller.url, ids.contosoToken);
  assert.equal((await contoso.list('routes')).some((r) => r.id === routeId), false);
  // The VM network still has a subnet: 409, and the page names the user.
  await page.goto(`${controller.url}/#/vm-networks/${ids.blue}`);
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  const refusal = page.getByRole('alert');
  await refusal.waitFor();
  // "in use by" names and links the user.
  await refusal.getByRole('link', { name: 'VM subnet web' }).waitFor();
  assert.match(await refusal.textContent(), /Conflict.*in use by VM subnet web/s);
  assert.equal((await contoso.call('GET', `/api/v1/vm-networks/${ids.blue}`)).name, 'Blue-from-api');
  assert.deepEqual(unexpected(problems, [409]), []);
  await context.close();
});

test('the keyboard: the skip link reaches the content, navigation moves focus to it', async () => {
  const { page, context, problems } = await openPage(browser, controller.url);
  await signIn(page, ids.opsToken);  // the token handed over in the first test: Contoso's
  assert.match(await page.getByTestId('who').textContent(), /Tenant Contoso · token contoso-ops/);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  assert.equal(await skip.evaluate((a) => a === document.activeElement), true);
  const before = page.url();
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'content');
  assert.equal(page.url(), before);
  assert.equal(await page.getByRole('heading', { name: 'Not found' }).count(), 0);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'VM networks' }).click();
  await page.getByRole('heading', { name: 'VM networks' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'content');
  // A tenant's hosts are numbered, not shown by id (ids may all start 00000000).
  await page.goto(`${controller.url}/#/topology`);
  await page.locator('.topology-list').getByText('web-1').waitFor();
  assert.match(await page.locator('.topology-list').textContent(), /web-1 10\.0\.0\.10 .* on host 1/s);
  assert.deepEqual(unexpected(problems, []), []);
  await context.close();
});

test('lists: a filter box, sorting by name, state chips and Load more, all asked of the server', async () => {
  for (let i = 0; i < 101; i++) await admin.create('tenants', { name: `bulk-${String(i).padStart(3, '0')}` });
  const { page, context, problems } = await openPage(browser, controller.url);
  await signIn(page, controller.adminToken);
  await page.goto(`${controller.url}/#/tenants`);
  const table = page.getByTestId('list-tenants');
  await table.waitFor();
  assert.equal(await table.locator('tbody tr').count(), 100);
  await page.getByTestId('load-more').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="list-tenants"] tbody tr').length === 103);
  assert.equal(await page.getByTestId('load-more').count(), 0);
  // The filter box: the server's ?name=*text*, any case.
  await page.getByLabel('Filter by name').fill('BULK-09');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="list-tenants"] tbody tr').length === 10);
  assert.match(await table.locator('tbody tr').first().textContent(), /bulk-090/);
  // The name header sorts: descending on the second press.
  const header = page.getByRole('columnheader', { name: /Name/ });
  await header.getByRole('button').click();
  await page.waitForFunction(() => document.querySelector('th[aria-sort]')?.getAttribute('aria-sort') === 'ascending');
  await header.getByRole('button').click();
  await page.waitForFunction(() => document.querySelector('th[aria-sort]')?.getAttribute('aria-sort') === 'descending');
  await page.waitForFunction(() => document.querySelector('[data-testid="list-tenants"] tbody tr th')?.textContent === 'bulk-099');
  await screenshot(page, 'admin-list-filtered');
  // State chips: every NIC waits (no agents), none succeeds.
  await page.goto(`${controller.url}/#/vm-nics`);
  await page.getByTestId('list-vm-nics').waitFor();
  await page.getByRole('button', { name: 'Success' }).click();
  await page.getByText('No vm nics match.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Success' }).getAttribute('aria-pressed'), 'true');
  await page.getByRole('button', { name: 'Pending' }).click();
  await page.getByTestId('list-vm-nics').waitFor();
  assert.match(await page.getByTestId('list-vm-nics').textContent(), /fab-vm.*pending.*web-1.*pending/s);
  assert.deepEqual(unexpected(problems, []), []);
  await context.close();
});

test('port profiles: the administrator makes one and a static record through the forms; a tenant reads them and names only a granted one', async () => {
  let { page, context, problems } = await openPage(browser, controller.url);
  await signIn(page, controller.adminToken);
  await page.goto(`${controller.url}/#/port-profiles/new`);
  await page.getByLabel(/^Name/).fill('limit-50');
  await page.getByLabel(/^Maximum Mbit\/s/).fill('50');
  await page.getByLabel(/^Allowed addresses/).fill('10.99.0.0/16, 10.98.0.0/16');
  await page.getByLabel(/^DHCP guard/).uncheck();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'port profile limit-50' }).waitFor();
  const limit = (await admin.list('port-profiles')).find((p) => p.name === 'limit-50');
  assert.equal(limit.bandwidth_max_mbps, 50);
  assert.deepEqual(limit.allowed_addresses, ['10.99.0.0/16', '10.98.0.0/16']);
  assert.equal(limit.dhcp_guard, false);
  assert.equal(limit.router_guard, true);
  await page.goto(`${controller.url}/#/port-profiles`);
  await page.getByTestId('list-port-profiles').getByText('Guest Dynamic IP').waitFor();
  await screenshot(page, 'admin-port-profiles');
  // A static record for Fabrikam's subnet: its VSID finds the subnet.
  const subnet = (await client(controller.url, ids.fabrikamToken).list('vm-subnets'))[0];
  await page.goto(`${controller.url}/#/static-records/new`);
  await page.getByLabel(/^VSID/).fill(String(subnet.vsid));
  await page.getByLabel(/^CA/).fill('10.0.0.200');
  await page.getByLabel(/^MAC/).fill('02:00:00:00:20:00');
  await page.getByLabel(/^PA/).fill('192.168.1.99');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('[data-field="vm_subnet_id"]').waitFor();
  const record = (await admin.list('static-records'))[0];
  assert.equal(record.vm_subnet_id, subnet.id);
  assert.equal(record.pa, '192.168.1.99');
  await context.close();

  // The tenant reads the profiles, cannot write them, and may name the
  // built-ins (its grants: it has no port_profile_ids) but not limit-50.
  ({ page, context, problems } = await openPage(browser, controller.url));
  await signIn(page, ids.fabrikamToken);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Port profiles' }).click();
  await page.getByTestId('list-port-profiles').getByText('limit-50').waitFor();
  assert.equal(await page.getByRole('link', { name: /New port profile/ }).count(), 0);
  await page.goto(`${controller.url}/#/port-profiles/${limit.id}`);
  await page.getByRole('heading', { name: 'port profile limit-50' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Edit' }).count(), 0);
  await page.goto(`${controller.url}/#/vm-nics/${ids.fabrikamNic}`);
  await page.getByRole('button', { name: 'Edit' }).click();
  const select = page.getByLabel(/^Port profile/);
  await select.locator('option', { hasText: 'Guest Dynamic IP' }).waitFor({ state: 'attached' });
  const offered = await select.locator('option').allTextContents();
  assert.deepEqual(offered.filter((o) => o !== '—').sort(), ['Guest Dynamic IP', 'High bandwidth', 'Low bandwidth', 'Medium bandwidth']);
  await select.selectOption({ label: 'Guest Dynamic IP' });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('[data-field="port_profile_id"]').getByText('Guest Dynamic IP').waitFor();
  const nic = await client(controller.url, ids.fabrikamToken).call('GET', `/api/v1/vm-nics/${ids.fabrikamNic}`);
  assert.equal(nic.port_profile_id, '00000000-0000-4000-8000-00000000f004');
  await screenshot(page, 'tenant-nic-port-profile');
  assert.deepEqual(unexpected(problems, []), []);
  await context.close();
});

test('a revoked token is signed out with a reason; a bad token is refused at sign-in', async () => {
  const { page, context, problems } = await openPage(browser, controller.url);
  assert.match(await page.locator('main').textContent(), /in <data-dir>\/admin\.token/);
  await page.getByLabel('Token').fill('vnet_0000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /not valid/);
  const temp = await admin.create('tokens', { name: 'temporary' });
  await signIn(page, temp.token);
  await admin.call('DELETE', `/api/v1/tokens/${temp.id}`);
  await page.goto(`${controller.url}/#/hosts`);
  await page.getByText(/stopped working/).waitFor();
  assert.deepEqual(unexpected(problems, [401]), []);
  await context.close();
});
