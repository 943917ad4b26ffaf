// The first page. Administrators: object counts, a Problems panel (every
// host, VM NIC and gateway not in success), hosts and their realization,
// and the controller's counters over time (sampled from
// /metrics every 2 s while the page is open, drawn with uPlot). Tenants:
// their own objects and the state of their NICs.
import { html, useState, useEffect, useRef } from '../vendor/htm-preact-standalone.mjs';
import uPlot from '../vendor/uPlot.esm.js';
import { listAll } from './api.js';
import { kinds } from './kinds.js';
import { Problem } from './views.js';

const kSamples = 150;  // 5 minutes at one sample every 2 s

// Prometheus text -> {name: total over its label sets}, and labelled values.
export function parseMetrics(textBody) {
  const totals = {};
  const labelled = {};
  for (const line of textBody.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/);
    if (!m) continue;
    const value = Number(m[3]);
    totals[m[1]] = (totals[m[1]] || 0) + value;
    if (m[2]) (labelled[m[1]] ||= []).push({ labels: m[2], value });
  }
  return { totals, labelled };
}

function Chart({ title, series, data }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    plot.current = new uPlot({
      title, width: 520, height: 200,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      axes: [{}, { size: 50 }],
      // The last five minutes, even while there are only a few samples.
      // Until the second sample there is no max: end the axis now, not in 1970.
      scales: { x: { time: true, range: (u, min, max) => { const end = Number.isFinite(max) && max > 0 ? max : Date.now() / 1000; return [end - 300, end]; } } },
    }, data, box.current);
    box.current.uplot = plot.current;  // for the browser test
    return () => plot.current.destroy();
  }, []);
  useEffect(() => { plot.current?.setData(data); }, [data]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${title}></div>`;
}

// Every host, VM NIC and gateway that is not in `success`, with its codes:
// what an operator looks at first.
function ProblemsPanel({ hosts, nics, gateways, hostNames }) {
  if (!hosts || !nics || !gateways) return html`<p class="loading">Loading…</p>`;
  const rows = [
    ...hosts.map((h) => ({ kind: 'Host', label: h.name, href: `#/hosts/${h.id}`, state: h.configuration_state })),
    ...nics.map((n) => ({
      kind: 'VM NIC', label: n.vm_name + (n.host_id ? ` on ${hostNames[n.host_id] || n.host_id.slice(0, 8)}` : ''),
      href: `#/vm-nics/${n.id}`, state: n.configuration_state,
    })),
    ...gateways.map((g) => ({ kind: 'Gateway', label: g.name || g.id, href: `#/gateways/${g.id}`, state: g.configuration_state })),
  ].filter((r) => r.state && r.state.status !== 'success');
  if (rows.length === 0) {
    return html`<p class="empty" data-testid="problems">Every host, VM NIC and gateway is realized.</p>`;
  }
  return html`<table data-testid="problems">
    <thead><tr><th scope="col">Object</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Why</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr>
      <th scope="row"><a href=${r.href}>${r.label}</a></th><td>${r.kind}</td>
      <td><span class=${`state ${r.state.status}`}>${r.state.status}</span></td>
      <td>${(r.state.detail || []).map((d) => html`<span class="code">${d.code}</span> ${d.message} `)}</td>
    </tr>`)}</tbody></table>`;
}

function AdminOverview() {
  const [metrics, setMetrics] = useState(null);
  const [hosts, setHosts] = useState(null);
  const [nics, setNics] = useState(null);
  const [gateways, setGateways] = useState(null);
  const [error, setError] = useState(null);
  const [series, setSeries] = useState([[], [], [], []]);
  useEffect(() => {
    let last = null;
    let live = true;
    const sample = async () => {
      try {
        const response = await fetch('/metrics');
        const m = parseMetrics(await response.text());
        if (!live) return;
        setMetrics(m);
        const now = Date.now() / 1000;
        const requests = m.totals.vnet_http_requests_total || 0;
        const generations = m.totals.vnet_policy_generations_total || 0;
        if (last) {
          const dt = Math.max(0.001, now - last.t);
          setSeries((old) => {
            const next = [
              [...old[0], now],
              [...old[1], (requests - last.requests) / dt],
              [...old[2], (generations - last.generations) / dt],
              [...old[3], m.totals.vnet_hosts_connected || 0],
            ];
            return next.map((a) => a.slice(-kSamples));
          });
        }
        last = { t: now, requests, generations };
      } catch (e) {
        if (live) setError({ title: 'Metrics unavailable', detail: e.message });
      }
    };
    sample();
    const timer = setInterval(sample, 2000);
    listAll('hosts').then((h) => live && setHosts(h)).catch((e) => live && setError(e));
    // Only the NICs that are not realized: the server filters (a large
    // model has many NICs and few problems).
    Promise.all(['pending', 'failure'].map((state) => listAll('vm-nics', { configuration_state: state })))
      .then(([pending, failed]) => live && setNics([...failed, ...pending]))
      .catch((e) => live && setError(e));
    listAll('gateways').then((g) => live && setGateways(g)).catch((e) => live && setError(e));
    return () => { live = false; clearInterval(timer); };
  }, []);
  const counts = {};
  for (const { labels, value } of metrics?.labelled.vnet_objects || []) {
    const kind = labels.match(/kind="([^"]+)"/)?.[1];
    if (kind) counts[kind] = value;
  }
  return html`<main>
    <h1>Overview</h1>
    <${Problem} error=${error} />
    <ul class="cards" data-testid="counts">
      ${Object.keys(kinds).map((k) => html`<li><a href=${`#/${k}`}><strong>${counts[k] ?? '…'}</strong> ${kinds[k].label}</a></li>`)}
    </ul>
    <section>
      <h2>Problems</h2>
      <${ProblemsPanel} hosts=${hosts} nics=${nics} gateways=${gateways}
        hostNames=${Object.fromEntries((hosts || []).map((h) => [h.id, h.name]))} />
    </section>
    <section>
      <h2>Hosts</h2>
      ${hosts && hosts.length === 0 && html`<p class="empty">No hosts yet. <a href="#/hosts/new">Add one</a>, then enroll its agent.</p>`}
      ${hosts && hosts.length > 0 && html`<table data-testid="hosts-realization">
        <thead><tr><th scope="col">Host</th><th scope="col">PA</th><th scope="col">Agent</th><th scope="col">Realized / desired</th><th scope="col">State</th></tr></thead>
        <tbody>${hosts.map((h) => html`<tr>
          <th scope="row"><a href=${`#/hosts/${h.id}`}>${h.name}</a></th><td>${h.pa}</td>
          <td><span class=${`state ${h.connected ? 'success' : 'failure'}`}>${h.connected ? 'connected' : 'not connected'}</span></td>
          <td>${h.realized_generation} / ${h.desired_generation}</td>
          <td><span class=${`state ${h.configuration_state?.status}`}>${h.configuration_state?.status}</span>
            ${(h.configuration_state?.detail || []).map((d) => html` <span class="code" title=${d.message}>${d.code}</span>`)}</td>
        </tr>`)}</tbody></table>`}
    </section>
    <section class="charts">
      <h2>Controller, last 5 minutes</h2>
      <${Chart} title="API requests per second" data=${[series[0], series[1]]} series=${[{ label: 'requests/s', color: '#1f5fa8' }]} />
      <${Chart} title="Policy generations per second and hosts connected" data=${[series[0], series[2], series[3]]}
        series=${[{ label: 'generations/s', color: '#c77700' }, { label: 'hosts connected', color: '#2f855a' }]} />
    </section>
  </main>`;
}

function TenantOverview({ who }) {
  const [state, setState] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all(['vm-networks', 'vm-subnets', 'ip-pools', 'vm-nics', 'gateways', 'routes'].map((c) => listAll(c)))
      .then(([networks, subnets, pools, nics, gateways, routes]) => setState({ networks, subnets, pools, nics, gateways, routes }))
      .catch(setError);
  }, []);
  const states = {};
  for (const n of state?.nics || []) states[n.configuration_state?.status || 'unknown'] = (states[n.configuration_state?.status || 'unknown'] || 0) + 1;
  return html`<main>
    <h1>${who.tenant_name}</h1>
    <${Problem} error=${error} />
    ${state && html`
      <ul class="cards" data-testid="counts">
        <li><a href="#/vm-networks"><strong>${state.networks.length}</strong> VM networks</a></li>
        <li><a href="#/vm-subnets"><strong>${state.subnets.length}</strong> VM subnets</a></li>
        <li><a href="#/ip-pools"><strong>${state.pools.length}</strong> CA pools</a></li>
        <li><a href="#/vm-nics"><strong>${state.nics.length}</strong> VM NICs</a></li>
        <li><a href="#/gateways"><strong>${state.gateways.length}</strong> gateways</a></li>
        <li><a href="#/routes"><strong>${state.routes.length}</strong> routes</a></li>
      </ul>
      <section><h2>VM NICs by state</h2>
        ${state.nics.length === 0 ? html`<p class="empty">No VM NICs yet. Start with a <a href="#/vm-networks/new">VM network</a>.</p>`
          : html`<ul>${Object.entries(states).map(([s, n]) => html`<li><span class=${`state ${s}`}>${s}</span> ${n}</li>`)}</ul>`}
      </section>`}
  </main>`;
}

export function OverviewView({ who }) {
  return who.role === 'admin' ? html`<${AdminOverview} />` : html`<${TenantOverview} who=${who} />`;
}
