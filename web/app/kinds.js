// What the console shows of each collection: its menu label, the columns of
// its table, and who sees it. Fields, their types and who may set them come
// from the API's OpenAPI document (api.js schemaOf), not from here.
export const kinds = {
  'logical-networks': { label: 'Logical networks', columns: ['name', 'network_virtualization', 'flow_entropy'], admin: true },
  sites: { label: 'Sites', columns: ['name', 'logical_network_id', 'subnets', 'host_group'], admin: true },
  'ip-pools': { label: 'IP pools', tenantLabel: 'CA pools', tenantSingular: 'CA pool', columns: ['name', 'vm_subnet_id', 'site_id', 'subnet', 'ranges', 'gateway', 'usage'], admin: false },
  'mac-pools': { label: 'MAC pools', columns: ['name', 'start', 'end'], admin: true },
  hosts: { label: 'Hosts', columns: ['name', 'pa', 'external_interface', 'connected', 'last_seen', 'generations', 'configuration_state'], admin: true },
  tenants: { label: 'Tenants', columns: ['name', 'logical_network_ids', 'external_pool_ids'], admin: true },
  tokens: { label: 'Tokens', columns: ['name', 'role', 'tenant_id'], admin: true },
  'vm-networks': { label: 'VM networks', columns: ['name', 'translation', 'isolation', 'rdid', 'tenant_id'], admin: false },
  'vm-subnets': { label: 'VM subnets', columns: ['name', 'prefix', 'vsid', 'vm_network_id'], admin: false },
  'vm-nics': { label: 'VM NICs', columns: ['vm_name', 'ip', 'mac', 'vm_subnet_id', 'host_id', 'interface', 'configuration_state'], admin: false },
  gateways: { label: 'Gateways', columns: ['name', 'kind', 'vm_network_id', 'host_id', 'external_ip', 'nat_rules', 'configuration_state'], admin: false },
  routes: { label: 'Routes', columns: ['prefix', 'next_hop', 'metric', 'vm_network_id'], admin: false },
  // The administrator's; tenants read them (x-vnet-tenants-read) to choose one.
  'port-profiles': { label: 'Port profiles', columns: ['name', 'bandwidth_max_mbps', 'bandwidth_min_mbps', 'weight', 'allowed_addresses', 'allow_mac_spoofing', 'dhcp_guard', 'router_guard'], admin: false },
  'static-records': { label: 'Static records', columns: ['vsid', 'ca', 'mac', 'pa', 'vm_subnet_id'], admin: true },
};

export const adminMenu = ['logical-networks', 'sites', 'ip-pools', 'mac-pools', 'hosts', 'tenants', 'tokens',
  'port-profiles', 'static-records', 'vm-networks', 'vm-subnets', 'vm-nics', 'gateways', 'routes'];
export const tenantMenu = ['vm-networks', 'vm-subnets', 'ip-pools', 'vm-nics', 'gateways', 'routes', 'port-profiles'];

export const headings = {
  id: 'ID', pa: 'PA', ip: 'IP', mac: 'MAC', vsid: 'VSID', rdid: 'RDID', dns: 'DNS',
  vm_name: 'VM name', vm_subnet_id: 'VM subnet', vm_network_id: 'VM network', logical_network_id: 'Logical network',
  site_id: 'Site', host_id: 'Host', tenant_id: 'Tenant', external_pool_id: 'External pool',
  configuration_state: 'State', last_seen: 'Last seen', next_hop: 'Next hop', host_group: 'Host group',
  network_virtualization: 'Network virtualization', flow_entropy: 'Flow entropy', generations: 'Realized / desired',
  external_ip: 'External IP', usage: 'Used / free', nat_rules: 'NAT rules', external_interface: 'External interface',
  logical_network_ids: 'Logical networks granted', external_pool_ids: 'External pools granted',
  port_profile_ids: 'Port profiles granted', default_port_profile_id: 'Default port profile',
  port_profile_id: 'Port profile', allow_mac_spoofing: 'MAC spoofing allowed', allowed_addresses: 'Allowed addresses',
  dhcp_guard: 'DHCP guard', router_guard: 'Router guard', bandwidth_max_mbps: 'Maximum Mbit/s',
  bandwidth_min_mbps: 'Minimum Mbit/s', ca: 'CA',
};

export function heading(field) {
  if (headings[field]) return headings[field];
  const words = field.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// A field value as text for a table cell or a detail row.
export function text(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) {
    if (!value.length) return '—';
    return value.map((v) => {
      if (v && typeof v === 'object' && 'start' in v) return `${v.start}–${v.end}`;
      if (v && typeof v === 'object' && 'prefix' in v) return v.vlan ? `${v.prefix} (VLAN ${v.vlan})` : v.prefix;
      if (v && typeof v === 'object' && 'external_port' in v) {
        return `${v.protocol} ${v.external_port} → ${v.internal_ip}:${v.internal_port}`;
      }
      return String(v);
    }).join(', ');
  }
  if (typeof value === 'object') {
    if ('status' in value) return value.status;
    return JSON.stringify(value);
  }
  return String(value);
}

// IPv4 helpers for the CA pools' used/free figures.
export function ipToInt(ip) {
  const parts = String(ip).split('.').map(Number);
  return parts.length === 4 ? ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3] : NaN;
}

// Used and free addresses of an IP pool: used = NICs (or hosts, for a site
// pool) whose address falls in a range; free = the ranges' size minus the
// gateway, reserved addresses and the used ones.
export function poolUsage(pool, addresses) {
  const inRanges = (n) => pool.ranges.some((r) => n >= ipToInt(r.start) && n <= ipToInt(r.end));
  let size = 0;
  for (const r of pool.ranges) size += ipToInt(r.end) - ipToInt(r.start) + 1;
  const excluded = new Set([...(pool.reserved || []), pool.gateway].filter(Boolean).map(ipToInt).filter(inRanges));
  const used = new Set(addresses.map(ipToInt).filter((n) => inRanges(n) && !excluded.has(n)));
  return { used: used.size, free: Math.max(0, size - excluded.size - used.size) };
}
