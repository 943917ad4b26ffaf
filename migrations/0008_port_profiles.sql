-- Port profiles and static lookup records (issue 19, DESIGN.md section 3):
-- per-NIC security and bandwidth settings that VM NICs name, and lookup
-- records for endpoints that are not VMs. Both administrators' objects.
CREATE TABLE port_profiles (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);

ALTER TABLE vm_nics ADD COLUMN port_profile_id TEXT REFERENCES port_profiles(id);
CREATE INDEX vm_nics_port_profile ON vm_nics(port_profile_id);

CREATE TABLE static_records (
  id TEXT PRIMARY KEY,
  vm_subnet_id TEXT NOT NULL REFERENCES vm_subnets(id),
  etag TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX static_records_vm_subnet ON static_records(vm_subnet_id);

-- The built-in port profiles, SCVMM's virtual port profiles of the same
-- names: three bandwidth weights for a congested uplink, and one for
-- guests that choose their own addresses (any source, both guards on).
-- Well-known ids; an administrator may change or delete them.
INSERT INTO port_profiles (id, name, etag, body) VALUES (
  '00000000-0000-4000-8000-00000000f001', 'Low bandwidth', 'initial',
  '{"name":"Low bandwidth","description":"A small share of a congested uplink (weight 1)","allow_mac_spoofing":false,"allowed_addresses":[],"dhcp_guard":true,"router_guard":true,"weight":1}');
INSERT INTO port_profiles (id, name, etag, body) VALUES (
  '00000000-0000-4000-8000-00000000f002', 'Medium bandwidth', 'initial',
  '{"name":"Medium bandwidth","description":"A medium share of a congested uplink (weight 3)","allow_mac_spoofing":false,"allowed_addresses":[],"dhcp_guard":true,"router_guard":true,"weight":3}');
INSERT INTO port_profiles (id, name, etag, body) VALUES (
  '00000000-0000-4000-8000-00000000f003', 'High bandwidth', 'initial',
  '{"name":"High bandwidth","description":"A large share of a congested uplink (weight 5)","allow_mac_spoofing":false,"allowed_addresses":[],"dhcp_guard":true,"router_guard":true,"weight":5}');
INSERT INTO port_profiles (id, name, etag, body) VALUES (
  '00000000-0000-4000-8000-00000000f004', 'Guest Dynamic IP', 'initial',
  '{"name":"Guest Dynamic IP","description":"The guest may use addresses of its own choosing (any source address); DHCP and router guards on","allow_mac_spoofing":false,"allowed_addresses":["0.0.0.0/0"],"dhcp_guard":true,"router_guard":true,"weight":1}');
