// Lists, object pages and forms for every collection, built from the API's
// OpenAPI schemas: a field added to the controller shows up here without a
// change to the console.
import { html, useState, useEffect, useLayoutEffect, useRef } from '../vendor/htm-preact-standalone.mjs';
import { api, listAll, schemaOf, ApiError } from './api.js';
import { kinds, heading, text, poolUsage } from './kinds.js';

const refCollections = ['logical-networks', 'sites', 'ip-pools', 'hosts', 'tenants', 'vm-networks', 'vm-subnets', 'port-profiles'];

export function labelOf(item) {
  if (!item) return '';
  if (item.name) return item.name;
  if (item.granted) return `pool ${item.id.slice(0, 8)}`;
  if (item.vm_name) return `${item.vm_name} (${item.ip || item.mac || ''})`;
  if (item.prefix) return item.prefix;
  return item.id;
}

// id -> object for the collections a page refers to. Collections the
// token may not read (admin-only ones, for a tenant) are not asked for:
// their ids are shown short, and typed in forms.
export async function loadNames(collections, who) {
  const names = {};
  await Promise.all(collections.map(async (c) => {
    const schema = await schemaOf(c);
    if (who.role !== 'admin' && schema['x-vnet-admin-only'] && !schema['x-vnet-tenants-read']) return;
    try {
      names[c] = Object.fromEntries((await listAll(c)).map((i) => [i.id, i]));
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 403) throw e;
    }
  }));
  // A tenant knows what it was granted by name (whoami), not by reading
  // the administrator's collections.
  if (who.role !== 'admin') {
    if (collections.includes('logical-networks')) {
      names['logical-networks'] = Object.fromEntries((who.logical_networks || []).map((g) => [g.id, { ...g, granted: true }]));
    }
    if (collections.includes('ip-pools')) {
      for (const g of who.external_pools || []) (names['ip-pools'] ||= {})[g.id] = { ...g, granted: true };
    }
    // Port profiles: the tenant reads them all, and may name the granted ones.
    for (const g of who.port_profiles || []) {
      if (names['port-profiles']?.[g.id]) names['port-profiles'][g.id] = { ...names['port-profiles'][g.id], granted: true };
    }
  }
  return names;
}

// What one object of the collection is called for this reader (a tenant's
// IP pools are its CA pools, as its menu says).
function singular(collection, schema, who) {
  const meta = kinds[collection];
  return who?.role === 'tenant' && meta?.tenantSingular ? meta.tenantSingular : schema?.['x-vnet-singular'] || '';
}

function refTarget(schema, field) {
  if (field === 'tenant_id') return 'tenants';
  return schema?.properties?.[field]?.['x-vnet-ref'];
}

function Ref({ collection, id, names }) {
  if (!id) return '—';
  const item = names[collection]?.[id];
  if (!item) return html`<code title=${id}>${id.slice(0, 8)}</code>`;
  return html`<a href=${`#/${collection}/${id}`}>${labelOf(item)}</a>`;
}

function Value({ schema, field, value, names }) {
  const target = refTarget(schema, field);
  if (target && typeof value === 'string') return html`<${Ref} collection=${target} id=${value} names=${names} />`;
  if (target && Array.isArray(value)) {
    if (value.length === 0) return 'none';
    return value.map((id, i) => html`${i > 0 ? ', ' : ''}<${Ref} collection=${target} id=${id} names=${names} />`);
  }
  if (field === 'configuration_state' && value) {
    return html`<span class=${`state ${value.status}`}>${value.status}</span>
      ${(value.detail || []).map((d) => html` <span class="code" title=${d.message}>${d.code}</span>`)}`;
  }
  if (field === 'connected') return html`<span class=${`state ${value ? 'success' : 'failure'}`}>${value ? 'connected' : 'not connected'}</span>`;
  return text(value);
}

export function Problem({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert"><strong>${error.title}</strong>${' '}<${Linked} text=${error.detail || ''} /></div>`;
}

// A server message with "vm-subnets 5f0c…" in it (a 409's "in use by"):
// each such reference becomes a link named like the object, once its name
// is read (ids the reader may not read stay ids).
const kReference = /\b(tenants|tokens|logical-networks|sites|ip-pools|mac-pools|hosts|vm-networks|vm-subnets|vm-nics|gateways|routes) ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/g;
function Linked({ text: message }) {
  const [labels, setLabels] = useState({});
  const found = [...message.matchAll(kReference)].map((m) => ({ collection: m[1], id: m[2] }));
  useEffect(() => {
    let live = true;
    Promise.all(found.slice(0, 10).map(async ({ collection, id }) => {
      try {
        const { data } = await api('GET', `/api/v1/${collection}/${id}`);
        return [id, `${kinds[collection]?.label.replace(/s$/, '') || collection} ${labelOf(data)}`];
      } catch {
        return [id, null];
      }
    })).then((pairs) => { if (live) setLabels(Object.fromEntries(pairs.filter(([, l]) => l))); });
    return () => { live = false; };
  }, [message]);
  if (found.length === 0) return message;
  const parts = [];
  let at = 0;
  for (const m of message.matchAll(kReference)) {
    parts.push(message.slice(at, m.index));
    const [whole, collection, id] = m;
    parts.push(html`<a href=${`#/${collection}/${id}`}>${labels[id] || whole}</a>`);
    at = m.index + whole.length;
  }
  parts.push(message.slice(at));
  return parts;
}

const kPage = 100;

// One page of a collection with the server's filters and order (docs/api.md,
// "Lists"): ?name= (a * matches anything), ?configuration_state=, ?sort=.
async function listPage(collection, query, cursor) {
  const params = new URLSearchParams({ limit: String(kPage) });
  if (query.name) params.set('name', `*${query.name}*`);
  if (query.state) params.set('configuration_state', query.state);
  if (query.sort) params.set('sort', query.sort);
  if (cursor) params.set('cursor', cursor);
  const { data } = await api('GET', `/api/v1/${collection}?${params}`);
  return data;
}

export function ListView({ collection, who }) {
  const meta = kinds[collection];
  const [state, setState] = useState({ loading: true });
  const [query, setQuery] = useState({ name: '', state: '', sort: '' });
  const [typed, setTyped] = useState('');
  // The filter box asks the server once typing pauses.
  useEffect(() => {
    const timer = setTimeout(() => setQuery((q) => (q.name === typed ? q : { ...q, name: typed })), 250);
    return () => clearTimeout(timer);
  }, [typed]);
  const decorate = async (items, schema) => {
    const refs = new Set(meta.columns.map((c) => refTarget(schema, c)).filter(Boolean));
    const names = await loadNames([...refs].filter((c) => refCollections.includes(c)), who);
    const usage = collection === 'ip-pools' ? await poolUsages(items) : {};
    return { names, usage };
  };
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const [page, schema] = await Promise.all([listPage(collection, query), schemaOf(collection)]);
        const extra = await decorate(page.items, schema);
        if (live) setState({ items: page.items, next: page.next, schema, ...extra });
      } catch (error) {
        if (live) setState((old) => ({ ...old, loading: false, error }));
      }
    })();
    return () => { live = false; };
  }, [collection, query]);
  const more = async () => {
    try {
      const page = await listPage(collection, query, state.next);
      const items = [...state.items, ...page.items];
      const extra = await decorate(items, state.schema);
      setState({ ...state, items, next: page.next, ...extra });
    } catch (error) {
      setState({ ...state, error });
    }
  };

  const label = who.role === 'tenant' && meta.tenantLabel ? meta.tenantLabel : meta.label;
  const columns = meta.columns.filter((c) => !(c === 'tenant_id' && who.role !== 'admin')
    && !(collection === 'ip-pools' && who.role !== 'admin' && (c === 'site_id' || c === 'subnet')));
  const cell = (item, c) => {
    if (c === 'generations') return `${item.realized_generation} / ${item.desired_generation}`;
    if (c === 'usage') return state.usage[item.id] ? `${state.usage[item.id].used} / ${state.usage[item.id].free}` : '—';
    return html`<${Value} schema=${state.schema} field=${c} value=${item[c]} names=${state.names} />`;
  };
  const props = state.schema?.properties || {};
  const named = Boolean(props.name || props.vm_name);
  const stateful = meta.columns.includes('configuration_state');  // computed: not in the schema
  const filtered = query.name || query.state;
  // The first column (name) sorts: by name, by name descending, then back
  // to the order of creation.
  const nextSort = { '': 'name', name: '-name', '-name': '' }[query.sort];
  const ariaSort = { name: 'ascending', '-name': 'descending' }[query.sort] || 'none';
  const chip = (value, text_) => html`<button type="button" class=${`chip ${query.state === value ? 'on' : ''}`}
    aria-pressed=${query.state === value} onClick=${() => setQuery({ ...query, state: value })}>${text_}</button>`;
  return html`
    <main>
      <div class="title">
        <h1>${label}</h1>
        ${!readOnlyFor(who, state.schema) && html`<a class="button" href=${`#/${collection}/new`}>New ${singular(collection, state.schema, who)}</a>`}
      </div>
      ${(named || stateful) && html`<div class="filters">
        ${named && html`<label for="filter">Filter by name</label>
          <input id="filter" type="search" value=${typed} onInput=${(e) => setTyped(e.target.value)}
            placeholder="part of a name" data-testid="filter" />`}
        ${stateful && html`<div class="chips" role="group" aria-label="State">
          ${chip('', 'All')}${chip('success', 'Success')}${chip('pending', 'Pending')}${chip('failure', 'Failure')}</div>`}
      </div>`}
      <${Problem} error=${state.error} />
      ${state.loading && html`<p class="loading">Loading…</p>`}
      ${state.items && (state.items.length === 0
        ? html`<p class="empty">${filtered ? `No ${label.toLowerCase()} match.` : `No ${label.toLowerCase()} yet.`}</p>`
        : html`
          <table data-testid=${`list-${collection}`}>
            <thead><tr>
              <th scope="col" aria-sort=${named ? ariaSort : undefined}>${named
                ? html`<button type="button" class="sort" onClick=${() => setQuery({ ...query, sort: nextSort })}>${heading(columns[0])}
                    <span aria-hidden="true">${{ name: ' ▲', '-name': ' ▼' }[query.sort] || ''}</span></button>`
                : heading(columns[0])}</th>
              ${columns.slice(1).map((c) => html`<th scope="col">${heading(c)}</th>`)}</tr></thead>
            <tbody>
              ${state.items.map((item) => html`
                <tr>
                  <th scope="row"><a href=${`#/${collection}/${item.id}`}>${text(item[columns[0]])}</a></th>
                  ${columns.slice(1).map((c) => html`<td>${cell(item, c)}</td>`)}
                </tr>`)}
            </tbody>
          </table>`)}
      ${state.next && html`<p><button type="button" class="secondary" onClick=${more} data-testid="load-more">
        Load more (${state.items.length} shown)</button></p>`}
    </main>`;
}

// Used/free of each pool: a CA pool counts its subnet's NICs; a site pool
// (administrators) the PAs of the site's hosts, the rewrite PAs of NICs
// placed on them and the external IPs of gateways drawing from it.
async function poolUsages(pools) {
  const usage = {};
  const subnets = [...new Set(pools.map((p) => p.vm_subnet_id).filter(Boolean))];
  const nicsBySubnet = {};
  await Promise.all(subnets.map(async (s) => { nicsBySubnet[s] = await listAll('vm-nics', { vm_subnet_id: s }); }));
  let site = null;
  if (pools.some((p) => p.site_id)) {
    try {
      const [hosts, gateways, nics] = await Promise.all(['hosts', 'gateways', 'vm-nics'].map((c) => listAll(c)));
      site = { hosts, gateways, nics };
    } catch {
      site = null;
    }
  }
  for (const pool of pools) {
    if (pool.vm_subnet_id) {
      usage[pool.id] = poolUsage(pool, nicsBySubnet[pool.vm_subnet_id].map((n) => n.ip).filter(Boolean));
    } else if (site) {
      const hosts = site.hosts.filter((h) => h.site_id === pool.site_id);
      const hostIds = new Set(hosts.map((h) => h.id));
      usage[pool.id] = poolUsage(pool, [
        ...hosts.map((h) => h.pa),
        ...site.nics.filter((n) => hostIds.has(n.host_id)).map((n) => n.pa),
        ...site.gateways.filter((g) => g.external_pool_id === pool.id).map((g) => g.external_ip),
      ].filter(Boolean));
    }
  }
  return usage;
}

// ---- forms ---------------------------------------------------------------

function encode(prop, value) {
  if (prop.type === 'array') {
    if (!Array.isArray(value)) return '';
    const item = prop.items?.properties;
    if (item?.start) return value.map((r) => `${r.start}-${r.end}`).join(', ');
    if (item?.prefix) return value.map((s) => (s.vlan ? `${s.prefix}:${s.vlan}` : s.prefix)).join(', ');
    if (item?.external_port) {
      return value.map((r) => `${r.protocol}:${r.external_port}=${r.internal_ip}:${r.internal_port}`).join(', ');
    }
    return value.join(', ');
  }
  if (prop.type === 'boolean') return Boolean(value);
  return value === null || value === undefined ? '' : String(value);
}

// Form text back to JSON. Malformed list items go to the server as they
// are, so its validation names them (one set of rules, the server's).
function decode(prop, raw) {
  if (prop.type === 'boolean') return Boolean(raw);
  if (prop.type === 'integer') return raw === '' ? null : (/^-?\d+$/.test(raw.trim()) ? Number(raw) : raw);
  if (prop.type === 'array') {
    const parts = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
    const item = prop.items?.properties;
    if (item?.start) return parts.map((p) => { const [start, end] = p.split('-').map((s) => s.trim()); return { start, end: end ?? '' }; });
    if (item?.prefix) {
      return parts.map((p) => {
        const [prefix, vlan] = p.split(':').map((s) => s.trim());
        return vlan === undefined ? { prefix } : { prefix, vlan: /^\d+$/.test(vlan) ? Number(vlan) : vlan };
      });
    }
    if (item?.external_port) {
      // tcp:8080=10.0.0.5:80 (vnetctl's form too)
      const port = (v) => (/^\d+$/.test(v ?? '') ? Number(v) : v ?? '');
      return parts.map((p) => {
        const [outside, inside = ''] = p.split('=').map((s) => s.trim());
        const [protocol, external] = outside.split(':');
        const at = inside.lastIndexOf(':');
        return {
          protocol,
          external_port: port(external),
          internal_ip: at < 0 ? inside : inside.slice(0, at),
          internal_port: port(at < 0 ? '' : inside.slice(at + 1)),
        };
      });
    }
    return parts;
  }
  return raw.trim() === '' ? null : raw.trim();
}

// What a reference field may name: an external pool is a site's pool (a
// tenant's: the ones granted to it); a tenant's logical networks are its
// grants (loadNames); a tenant's NIC names a port profile granted to it, or
// keeps the one it has (an administrator may have chosen it).
function choicesFor(field, prop, options, who, current) {
  const items = Object.values(options?.[prop['x-vnet-ref']] || {});
  if (field === 'external_pool_id' || field === 'external_pool_ids') return items.filter((c) => c.site_id || c.granted);
  if (field === 'port_profile_id' && who?.role !== 'admin') return items.filter((c) => c.granted || c.id === current);
  return items;
}

// A collection the administrator writes and tenants only read.
export function readOnlyFor(who, schema) {
  return who.role !== 'admin' && Boolean(schema?.['x-vnet-tenants-read']);
}

function hint(prop) {
  if (prop.type === 'array') {
    const item = prop.items?.properties;
    if (item?.start) return 'start-end, separated by commas: 10.0.0.10-10.0.0.99';
    if (item?.prefix) return 'prefix[:VLAN], separated by commas: 192.168.1.0/24:10';
    if (item?.external_port) return 'protocol:port=address:port, separated by commas: tcp:8080=10.0.0.5:80';
    if (prop['x-vnet-ref']) return '';
    return 'addresses separated by commas';
  }
  if (prop.example) return `e.g. ${prop.example}`;
  return '';
}

function visibleFields(schema, who, editing) {
  return (schema['x-vnet-fields'] || Object.keys(schema.properties)).filter((f) => {
    const p = schema.properties[f];
    if (p['x-vnet-access'] === 'read-only') return false;
    if (p['x-vnet-admin-only'] && who.role !== 'admin') return false;
    if (editing && p['x-vnet-access'] !== 'writable') return false;
    return true;
  });
}

// Field errors from a problem document: "/ranges/0/start" belongs to ranges.
function fieldErrors(error, fields) {
  const byField = {};
  const rest = [];
  for (const e of error?.errors || []) {
    const name = String(e.field || '').replace(/^\//, '').split('/')[0];
    if (fields.includes(name)) (byField[name] ||= []).push(e.message);
    else rest.push(`${e.field}: ${e.message}`);
  }
  return { byField, rest };
}

export function Form({ collection, schema, who, object, initial, onSaved, onCancel, submitLabel }) {
  const editing = Boolean(object);
  const fields = visibleFields(schema, who, editing);
  const withTenant = !editing && who.role === 'admin' && collection === 'vm-networks';
  const allFields = withTenant ? ['tenant_id', ...fields] : fields;
  const props = { ...schema.properties, tenant_id: { type: 'string', 'x-vnet-ref': 'tenants', description: 'The tenant that owns it.' } };
  // A new object starts from the defaults and what the link that opened the
  // form gives (#/vm-subnets/new?vm_network_id=...: "Add one" on the parent).
  const [values, setValues] = useState(() => Object.fromEntries(allFields.map((f) => [f,
    object ? encode(props[f], object[f]) : (initial?.[f] ?? encode(props[f], props[f].default))])));
  const [options, setOptions] = useState(null);  // null while loading
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const refs = allFields.map((f) => props[f]['x-vnet-ref']).filter(Boolean);
    loadNames([...new Set(refs)], who).then((loaded) => {
      setOptions(loaded);
      // A new object: a reference with one possible choice is chosen
      // already (a tenant's one granted logical network or external pool).
      if (editing) return;
      const chosen = {};
      for (const f of allFields) {
        const p = props[f];
        if (!p['x-vnet-ref'] || p.type === 'array' || values[f]) continue;
        const choices = choicesFor(f, p, loaded, who, values[f]);
        if (choices.length === 1 && (who.role !== 'admin' || required.has(f))) chosen[f] = choices[0].id;
      }
      if (Object.keys(chosen).length) setValues((v) => ({ ...v, ...chosen }));
    }).catch(() => setOptions({}));
  }, [collection]);

  const required = new Set(editing ? [] : schema.required || []);
  if (withTenant) required.add('tenant_id');
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {};
    for (const f of allFields) {
      const value = decode(props[f], values[f]);
      if (editing) {
        if (JSON.stringify(value) !== JSON.stringify(decode(props[f], encode(props[f], object[f])))) body[f] = value;
      } else if (value !== null && !(Array.isArray(value) && value.length === 0 && !required.has(f))) {
        body[f] = value;
      }
    }
    try {
      const saved = editing
        ? await api('PATCH', `/api/v1/${collection}/${object.id}`, { body, ifMatch: `"${object.etag}"` })
        : await api('POST', `/api/v1/${collection}`, { body });
      savedAt.set(saved.data.id, Date.now());
      onSaved(saved.data);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const { byField, rest } = fieldErrors(error, allFields);
  const stale = error?.status === 412;
  const input = (f) => {
    const p = props[f];
    const id = `f-${f}`;
    const invalid = byField[f] ? 'true' : undefined;
    const described = [byField[f] ? `${id}-error` : '', `${id}-hint`].filter(Boolean).join(' ');
    const set = (v) => setValues({ ...values, [f]: v });
    const common = { id, name: f, 'aria-invalid': invalid, 'aria-describedby': described };
    if (p.type === 'boolean') {
      return html`<input type="checkbox" ...${common} checked=${values[f]} onChange=${(e) => set(e.target.checked)} />`;
    }
    if (p.enum) {
      return html`<select ...${common} value=${values[f]} onChange=${(e) => set(e.target.value)}>
        ${!required.has(f) && !p.default && html`<option value="">—</option>`}
        ${p.enum.map((v) => html`<option value=${v}>${v}</option>`)}
      </select>`;
    }
    const target = p['x-vnet-ref'];
    if (target && options === null) {
      return html`<select ...${common} disabled><option>Loading…</option></select>`;
    }
    const choices = target ? choicesFor(f, p, options, who, object?.[f]) : [];
    // A list of references (a tenant's grants): one checkbox each.
    if (target && p.type === 'array') {
      const chosen = new Set(String(values[f]).split(',').map((v) => v.trim()).filter(Boolean));
      const toggle = (id, on) => {
        if (on) chosen.add(id); else chosen.delete(id);
        set([...chosen].join(', '));
      };
      return html`<div class="choices" role="group" id=${id} aria-label=${heading(f)} aria-describedby=${described}>
        ${choices.length === 0 && html`<span class="empty">None exist yet.</span>`}
        ${choices.map((c) => html`<label class="choice"><input type="checkbox" value=${c.id}
          checked=${chosen.has(c.id)} onChange=${(e) => toggle(c.id, e.target.checked)} /> ${labelOf(c)}</label>`)}
      </div>`;
    }
    const granted = who.role !== 'admin' && (f === 'logical_network_id' || f === 'external_pool_id');
    if (target && options[target] && (choices.length || f !== 'external_pool_id' || granted)) {
      const none = granted && choices.length === 0 ? 'None granted: ask your administrator' : null;
      return html`<select ...${common} value=${values[f]} onChange=${(e) => set(e.target.value)}>
        <option value="">${none || (required.has(f) ? 'Choose…' : '—')}</option>
        ${choices.map((c) => html`<option value=${c.id}>${labelOf(c)}</option>`)}
      </select>`;
    }
    return html`<input type=${p.type === 'integer' ? 'number' : 'text'} ...${common} value=${values[f]}
      onInput=${(e) => set(e.target.value)} placeholder=${target ? 'id' : ''} />`;
  };
  return html`
    <form class="object-form" onSubmit=${submit} noValidate>
      ${stale && html`<div class="error" role="alert" data-testid="stale">
        <strong>Someone else changed this ${singular(collection, schema, who)} after you opened it.</strong>${' '}
        Your changes were not saved.${' '}<button type="button" onClick=${onCancel}>Load the current version</button></div>`}
      ${error && !stale && html`<div class="error" role="alert">
        <strong>${error.title}</strong>${' '}${error.detail}${Object.keys(byField).length > 0
          ? ` (${Object.keys(byField).length === 1 ? 'one field' : `${Object.keys(byField).length} fields`}: see below)` : ''}
        ${rest.length > 0 && html`<ul>${rest.map((r) => html`<li>${r}</li>`)}</ul>`}</div>`}
      ${allFields.map((f) => html`
        <div class=${`field ${byField[f] ? 'invalid' : ''}`}>
          <label for=${`f-${f}`}>${heading(f)}${required.has(f) ? html` <span aria-hidden="true">*</span>` : ''}</label>
          ${input(f)}
          <small id=${`f-${f}-hint`}>${[hint(props[f]), props[f].description].filter(Boolean).join(' · ')}</small>
          ${byField[f] && html`<p id=${`f-${f}-error`} class="field-error">${byField[f].join('; ')}</p>`}
        </div>`)}
      <div class="actions">
        <button type="submit" disabled=${busy}>${busy ? 'Saving…' : submitLabel}</button>
        <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      </div>
    </form>`;
}

// A block of text with a button that copies it.
function Copyable({ text: content, label, testid }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(content);
      setCopied(true);
    } catch {
      setCopied(false);  // no clipboard (plain HTTP off loopback): select it by hand
    }
  };
  return html`<div class="copyable">
    <pre class="secret" data-testid=${testid}>${content}</pre>
    <button type="button" class="secondary" onClick=${copy} aria-label=${`Copy ${label}`}>${copied ? 'Copied' : 'Copy'}</button>
  </div>`;
}

// A new token's secret is shown once, here, and never again: with what the
// person it is for needs to start (the console's address, vnetctl's
// environment).
function TokenHandOff({ created }) {
  const consoleUrl = `${location.origin}${location.pathname}`;
  const env = `export VNET_URL=${location.origin} VNET_TOKEN=${created.token}`;
  const https = location.protocol === 'https:';
  return html`<main>
    <h1>Token ${created.name} created</h1>
    <p>Copy the secret now: the controller keeps only its hash.</p>
    <${Copyable} text=${created.token} label="the token" testid="secret" />
    <h2>Hand it over</h2>
    <p>${created.role === 'tenant' ? 'The tenant signs in to the console here with the token:' : 'Sign in to the console here with the token:'}</p>
    <${Copyable} text=${consoleUrl} label="the console's address" testid="handoff-url" />
    <p>Or with vnetctl${https ? ' (add VNET_CA_CERT=ca.crt from the controller\'s data directory when its certificate is from its own CA)' : ''}:</p>
    <${Copyable} text=${env} label="the vnetctl environment" testid="handoff-env" />
    <a class="button" href=${`#/tokens/${created.id}`}>Done</a>
  </main>`;
}

// "Delete X?": focused as it opens (a layout effect, in the same task as the
// DOM change), so Enter and Escape answer it from the first moment.
function Confirm({ text: question, onYes, onNo }) {
  const yes = useRef(null);
  useLayoutEffect(() => { yes.current?.focus(); }, []);
  const onKey = (e) => { if (e.key === 'Escape') { e.preventDefault(); onNo(); } };
  return html`<div class="confirm" role="alertdialog" aria-modal="false" aria-labelledby="confirm-text" onKeyDown=${onKey}>
    <p id="confirm-text">${question}</p>
    <button type="button" class="danger" ref=${yes} onClick=${onYes}>Delete</button>${' '}
    <button type="button" class="secondary" onClick=${onNo}>Keep it</button>
  </div>`;
}

export function CreateView({ collection, who, initial }) {
  const [schema, setSchema] = useState(null);
  const [created, setCreated] = useState(null);
  useEffect(() => { schemaOf(collection).then(setSchema); }, [collection]);
  if (!schema) return html`<main><p class="loading">Loading…</p></main>`;
  if (created) return html`<${TokenHandOff} created=${created} />`;
  const label = kinds[collection].label;
  return html`<main>
    <h1>New ${singular(collection, schema, who)}</h1>
    <p class="crumbs"><a href=${`#/${collection}`}>${label}</a></p>
    <${Form} collection=${collection} schema=${schema} who=${who} initial=${initial} submitLabel="Create"
      onSaved=${(o) => { if (collection === 'tokens') setCreated(o); else location.hash = `#/${collection}/${o.id}`; }}
      onCancel=${() => { location.hash = `#/${collection}`; }} />
  </main>`;
}

function Enrollment({ id }) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const enroll = async () => {
    setError(null);
    try { setResult((await api('POST', `/api/v1/hosts/${id}/enrollment`)).data); } catch (e) { setError(e); }
  };
  return html`<section>
    <h2>Enrollment</h2>
    <p>A one-time token for this host's agent; it works once, for 24 hours.</p>
    <button type="button" onClick=${enroll}>Create enrollment token</button>
    <${Problem} error=${error} />
    ${result && html`<p>Run on the host (until ${result.expires_at}):</p><pre class="secret">${result.command}</pre>`}
  </section>`;
}

// When each object was last saved from this tab (id -> ms), so its page can
// say how long the hosts took to apply the change.
const savedAt = new Map();

// After a save: while the object's configuration_state is pending, ask
// again every 300 ms (for a minute at most), then say where and how fast it
// was realized, or why it failed.
function Realization({ collection, id, object, names, onUpdate }) {
  const [outcome, setOutcome] = useState(null);
  const status = object.configuration_state?.status;
  useEffect(() => {
    if (status !== 'pending') return undefined;
    const since = savedAt.get(id) ?? Date.now();
    let live = true;
    const timer = setInterval(async () => {
      if (Date.now() - since > 60000) { clearInterval(timer); return; }
      try {
        const { data } = await api('GET', `/api/v1/${collection}/${id}`);
        if (!live || data.configuration_state?.status === 'pending') return;
        clearInterval(timer);
        setOutcome({ status: data.configuration_state?.status, seconds: (Date.now() - since) / 1000 });
        onUpdate(data);
      } catch {
        clearInterval(timer);
      }
    }, 300);
    return () => { live = false; clearInterval(timer); };
  }, [id, status]);
  const where = object.host_id ? (names.hosts?.[object.host_id]?.name || 'its host') : null;
  const detail = (object.configuration_state?.detail || []).map((d) => d.code).join(', ');
  if (status === 'pending') {
    return html`<p class="note" role="status" data-testid="realization">
      Waiting for ${where || 'the hosts'} to apply it${detail ? ` (${detail})` : ''}…</p>`;
  }
  if (!outcome) return null;
  if (outcome.status === 'success') {
    return html`<p class="note ok" role="status" data-testid="realization">
      Realized${where ? ` on ${where}` : ''} in ${outcome.seconds.toFixed(1)} s.</p>`;
  }
  return html`<p class="note bad" role="status" data-testid="realization">
    Not realized${where ? ` on ${where}` : ''}: ${detail || outcome.status}.</p>`;
}

export function ObjectView({ collection, id, who }) {
  const [state, setState] = useState({ loading: true });
  const [mode, setMode] = useState('view');
  const [deleteError, setDeleteError] = useState(null);
  const load = async () => {
    try {
      const [{ data }, schema] = await Promise.all([api('GET', `/api/v1/${collection}/${id}`), schemaOf(collection)]);
      const refs = Object.keys(data).map((f) => refTarget(schema, f)).filter((c) => c && refCollections.includes(c));
      const names = await loadNames([...new Set(refs)], who);
      let children = null;
      if (collection === 'vm-networks') children = await listAll('vm-subnets', { vm_network_id: id });
      if (collection === 'vm-subnets') children = await listAll('vm-nics', { vm_subnet_id: id });
      setState({ object: data, schema, names, children });
    } catch (error) {
      setState({ error });
    }
  };
  useEffect(() => { load(); }, [collection, id]);
  const meta = kinds[collection];
  if (state.error) {
    return html`<main><p class="crumbs"><a href=${`#/${collection}`}>${meta.label}</a></p><${Problem} error=${state.error} /></main>`;
  }
  if (state.loading) return html`<main><p class="loading">Loading…</p></main>`;
  const { object, schema, names } = state;
  const remove = async () => {
    setDeleteError(null);
    try {
      await api('DELETE', `/api/v1/${collection}/${id}`, { ifMatch: `"${object.etag}"` });
      location.hash = `#/${collection}`;
    } catch (e) {
      setDeleteError(e);
      setMode('view');
    }
  };
  const order = ['id', ...(schema['x-vnet-fields'] || []), ...Object.keys(object).filter((k) => !['id', 'etag', ...(schema['x-vnet-fields'] || [])].includes(k)), 'etag'];
  const title = labelOf(object);
  return html`
    <main>
      <p class="crumbs"><a href=${`#/${collection}`}>${meta.label}</a></p>
      <div class="title">
        <h1>${singular(collection, schema, who)} ${title}</h1>
        ${mode === 'view' && !readOnlyFor(who, schema) && html`<div class="actions">
          <button type="button" onClick=${() => setMode('edit')}>Edit</button>
          <button type="button" class="danger" onClick=${() => setMode('confirm')}>Delete</button>
        </div>`}
      </div>
      ${mode === 'confirm' && html`<${Confirm} text=${`Delete ${singular(collection, schema, who)} ${title}? This cannot be undone.`}
        onYes=${remove} onNo=${() => setMode('view')} />`}
      <${Problem} error=${deleteError} />
      ${mode === 'view' && object.configuration_state && collection !== 'hosts' && html`<${Realization} collection=${collection}
        id=${id} object=${object} names=${names} onUpdate=${(o) => setState((old) => ({ ...old, object: o }))} />`}
      ${mode === 'edit'
        ? html`<${Form} collection=${collection} schema=${schema} who=${who} object=${object} submitLabel="Save"
            onSaved=${() => { setMode('view'); load(); }} onCancel=${() => { setMode('view'); load(); }} />`
        : html`<dl class="details">
            ${order.filter((f) => f in object).map((f) => html`
              <div><dt>${heading(f)}</dt><dd data-field=${f}><${Value} schema=${schema} field=${f} value=${object[f]} names=${names} /></dd></div>`)}
          </dl>`}
      ${object.configuration_state?.detail?.length > 0 && html`<section><h2>Configuration state</h2><ul>
        ${object.configuration_state.detail.map((d) => html`<li><code>${d.code}</code> ${d.message}</li>`)}</ul></section>`}
      ${collection === 'hosts' && html`
        <p><a class="button" href=${`#/hosts/${id}/policy`}>Policy on this host</a></p>
        <${Enrollment} id=${id} />`}
      ${collection === 'vm-networks' && state.children && html`<section><h2>VM subnets</h2>
        ${state.children.length === 0 ? html`<p class="empty">None yet. <a href=${`#/vm-subnets/new?vm_network_id=${id}`}>Add one</a>.</p>`
          : html`<ul>${state.children.map((s) => html`<li><a href=${`#/vm-subnets/${s.id}`}>${s.name}</a> ${s.prefix} · VSID ${s.vsid}</li>`)}</ul>`}</section>`}
      ${collection === 'vm-nics' && !object.host_id && html`<p class="note" data-testid="unplaced">
        Not placed on a host yet: an administrator places it (its host and interface), as a compute
        orchestrator does when it starts the VM. It carries traffic from then on.</p>`}
      ${collection === 'vm-subnets' && state.children && html`<section><h2>VM NICs</h2>
        ${state.children.length === 0 ? html`<p class="empty">None yet. <a href=${`#/vm-nics/new?vm_subnet_id=${id}`}>Add one</a>.</p>`
          : html`<ul>${state.children.map((n) => html`<li><a href=${`#/vm-nics/${n.id}`}>${n.vm_name}</a> ${n.ip} · ${n.mac} · ${n.configuration_state?.status || ''}</li>`)}</ul>`}</section>`}
    </main>`;
}
