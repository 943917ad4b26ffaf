-- The network model of DESIGN.md section 3. Every object table has the same
-- frame: id (UUID text), tenant_id for tenant-owned kinds, etag, the object's
-- fields as JSON text in body, and real columns for what the database must
-- enforce or index: references (foreign keys, filters, "in use by"), names,
-- and globally unique values (VSID, RDID). Addresses and MACs handed out are
-- rows of the allocation tables, whose primary keys make a double allocation
-- impossible even if the allocator were wrong.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id),
  role TEXT NOT NULL CHECK (role IN ('admin', 'tenant')),
  secret_sha256 TEXT NOT NULL UNIQUE,
  etag TEXT NOT NULL,
  body TEXT NOT NULL,
  CHECK ((role = 'admin') = (tenant_id IS NULL))
);

CREATE TABLE logical_networks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);

CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  logical_network_id TEXT NOT NULL REFERENCES logical_networks(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX sites_logical_network ON sites(logical_network_id);

CREATE TABLE mac_pools (
  id TEXT PRIMARY KEY,
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);

CREATE TABLE vm_networks (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  logical_network_id TEXT NOT NULL REFERENCES logical_networks(id),
  rdid TEXT NOT NULL UNIQUE,
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX vm_networks_tenant ON vm_networks(tenant_id);
CREATE INDEX vm_networks_logical_network ON vm_networks(logical_network_id);

CREATE TABLE vm_subnets (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  vm_network_id TEXT NOT NULL REFERENCES vm_networks(id),
  vsid INTEGER NOT NULL UNIQUE CHECK (vsid BETWEEN 4096 AND 16777214),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX vm_subnets_tenant ON vm_subnets(tenant_id);
CREATE INDEX vm_subnets_vm_network ON vm_subnets(vm_network_id);

CREATE TABLE ip_pools (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id),
  site_id TEXT REFERENCES sites(id),
  vm_subnet_id TEXT REFERENCES vm_subnets(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL,
  CHECK ((site_id IS NULL) <> (vm_subnet_id IS NULL))
);
CREATE INDEX ip_pools_tenant ON ip_pools(tenant_id);
CREATE INDEX ip_pools_site ON ip_pools(site_id);
CREATE INDEX ip_pools_vm_subnet ON ip_pools(vm_subnet_id);

CREATE TABLE hosts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  site_id TEXT NOT NULL REFERENCES sites(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX hosts_site ON hosts(site_id);

CREATE TABLE vm_nics (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  vm_subnet_id TEXT NOT NULL REFERENCES vm_subnets(id),
  host_id TEXT REFERENCES hosts(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX vm_nics_tenant ON vm_nics(tenant_id);
CREATE INDEX vm_nics_vm_subnet ON vm_nics(vm_subnet_id);
CREATE INDEX vm_nics_host ON vm_nics(host_id);

CREATE TABLE gateways (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  vm_network_id TEXT NOT NULL REFERENCES vm_networks(id),
  host_id TEXT REFERENCES hosts(id),
  external_pool_id TEXT REFERENCES ip_pools(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX gateways_tenant ON gateways(tenant_id);
CREATE INDEX gateways_vm_network ON gateways(vm_network_id);

CREATE TABLE routes (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  vm_network_id TEXT NOT NULL REFERENCES vm_networks(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX routes_tenant ON routes(tenant_id);
CREATE INDEX routes_vm_network ON routes(vm_network_id);

-- IPv4 addresses in use. scope is where the address must be unique: a VM
-- subnet for customer addresses (whether from a pool or given), an IP pool
-- for provider and external addresses. owner_id is the NIC, host or gateway.
CREATE TABLE ip_allocations (
  scope TEXT NOT NULL,
  address INTEGER NOT NULL,
  pool_id TEXT REFERENCES ip_pools(id),
  owner_id TEXT NOT NULL,
  PRIMARY KEY (scope, address)
) WITHOUT ROWID;
CREATE INDEX ip_allocations_owner ON ip_allocations(owner_id);
CREATE INDEX ip_allocations_pool ON ip_allocations(pool_id);

-- MAC addresses in use, unique within the pool they came from (or, when
-- given by the client outside any pool, within the scope "given").
CREATE TABLE mac_allocations (
  scope TEXT NOT NULL,
  mac INTEGER NOT NULL,
  owner_id TEXT NOT NULL,
  PRIMARY KEY (scope, mac)
) WITHOUT ROWID;
CREATE INDEX mac_allocations_owner ON mac_allocations(owner_id);

-- The default MAC pool of DESIGN.md, present from the start.
INSERT INTO mac_pools (id, etag, body) VALUES (
  '00000000-0000-4000-8000-00000000ac00', 'initial',
  '{"name":"default","start":"00:1D:D8:B7:1C:00","end":"00:1D:D8:F4:1F:FF"}');
