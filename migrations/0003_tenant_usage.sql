-- How many objects of each collection with a quota (docs/api.md, "Quotas")
-- each tenant holds, kept by the controller in the transaction that creates
-- or deletes one: a quota check reads one row instead of counting a
-- tenant's objects on every create.
CREATE TABLE tenant_usage (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  collection TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, collection)
);

INSERT INTO tenant_usage (tenant_id, collection, count)
  SELECT tenant_id, 'vm-networks', COUNT(*) FROM vm_networks GROUP BY tenant_id;
INSERT INTO tenant_usage (tenant_id, collection, count)
  SELECT tenant_id, 'vm-subnets', COUNT(*) FROM vm_subnets GROUP BY tenant_id;
INSERT INTO tenant_usage (tenant_id, collection, count)
  SELECT tenant_id, 'vm-nics', COUNT(*) FROM vm_nics GROUP BY tenant_id;
INSERT INTO tenant_usage (tenant_id, collection, count)
  SELECT tenant_id, 'gateways', COUNT(*) FROM gateways GROUP BY tenant_id;
INSERT INTO tenant_usage (tenant_id, collection, count)
  SELECT tenant_id, 'routes', COUNT(*) FROM routes GROUP BY tenant_id;
