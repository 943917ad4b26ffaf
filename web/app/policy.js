// A host's compiled policy as the host holds it: what
// Get-NetVirtualizationLookupRecord, -CustomerRoute and -ProviderAddress
// show on a Hyper-V host.
import { html, useState, useEffect } from '../vendor/htm-preact-standalone.mjs';
import { api } from './api.js';
import { Problem } from './views.js';

function Table({ caption, columns, rows, testid }) {
  return html`<section>
    <h2>${caption} (${rows.length})</h2>
    ${rows.length === 0 ? html`<p class="empty">None.</p>` : html`
      <table data-testid=${testid}>
        <thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
        <tbody>${rows.map((r) => html`<tr>${r.map((v) => html`<td>${v}</td>`)}</tr>`)}</tbody>
      </table>`}
  </section>`;
}

export function PolicyView({ id }) {
  const [state, setState] = useState({});
  useEffect(() => {
    Promise.all([api('GET', `/api/v1/hosts/${id}`), api('GET', `/api/v1/hosts/${id}/policy`)])
      .then(([host, policy]) => setState({ host: host.data, policy: policy.data }))
      .catch((error) => setState({ error }));
  }, [id]);
  if (state.error) return html`<main><${Problem} error=${state.error} /></main>`;
  if (!state.policy) return html`<main><p class="loading">Loading…</p></main>`;
  const { host, policy } = state;
  const provider = policy.provider || {};
  return html`<main>
    <p class="crumbs"><a href="#/hosts">Hosts</a> › <a href=${`#/hosts/${id}`}>${host.name}</a></p>
    <h1>Policy on ${host.name}</h1>
    <dl class="details">
      <div><dt>Generation</dt><dd>${policy.generation} (realized ${host.realized_generation})</dd></div>
      <div><dt>Provider address</dt><dd>${provider.pa}/${provider.prefix_len}</dd></div>
      <div><dt>Flow entropy</dt><dd>${provider.flow_entropy ? 'on' : 'off'}</dd></div>
    </dl>
    <${Table} caption="Provider routes" testid="provider-routes" columns=${['DestinationPrefix', 'NextHop']}
      rows=${(provider.routes || []).map((r) => [r.prefix, r.next_hop])} />
    <${Table} caption="Lookup records" testid="lookup-records"
      columns=${['CustomerAddress', 'VirtualSubnetID', 'MACAddress', 'ProviderAddress', 'Rule']}
      rows=${(policy.lookup_records || []).map((r) => [r.ca, r.vsid, r.mac, r.pa, r.rule])} />
    <${Table} caption="Customer routes" testid="customer-routes"
      columns=${['RoutingDomainID', 'VirtualSubnetID', 'DestinationPrefix', 'NextHop', 'Metric']}
      rows=${(policy.customer_routes || []).map((r) => [`{${r.rdid}}`, r.vsid, r.prefix, r.next_hop, r.metric])} />
    <${Table} caption="Ports" testid="ports"
      columns=${['Interface', 'MACAddress', 'CustomerAddress', 'VirtualSubnetID', 'Gateway', 'MTU']}
      rows=${(policy.ports || []).map((p) => [p.interface, p.mac, p.ca, p.vsid, p.gateway, p.mtu])} />
  </main>`;
}
