#include "controller/model/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "controller/model/codec.h"
#include "controller/model/rows.h"
#include "controller/store/records.h"
#include "shared/util/time.h"
#include "shared/util/uuid.h"

namespace vnet::model {
namespace {

using nlohmann::json;

enum class Use { kRead, kWrite };

void require_collection_access(const Principal& who, const Kind& kind, Use use) {
  if (!kind.admin_only || who.is_admin()) return;
  if (kind.tenants_read && use == Use::kRead) return;
  throw forbidden(
      kind.tenants_read
          ? fmt::format("only an administrator may change /{}; tenants read it", kind.collection)
          : fmt::format("only an administrator may use /{}", kind.collection));
}

// Whether `who` may read the object: tenants read their own, and every
// object of a collection they may read whole.
bool readable_by(const Principal& who, const Kind& kind, const Row& row) {
  return (kind.tenants_read && !kind.tenant_owned) || visible_to(who, kind, row);
}

void require_uuid(const std::string& id) {
  if (!Uuid::parse(id)) throw invalid("/id", fmt::format("\"{}\" is not a UUID", id));
}

Problem no_such(const Kind& kind, const std::string& id) {
  return not_found(fmt::format("there is no {} with id {}", kind.singular, id));
}

// Strong ETags compare by value; "*" matches anything that exists.
void check_if_match(const Kind& kind, const Row& row, const std::optional<std::string>& if_match) {
  if (!if_match || *if_match == "*") return;
  std::string wanted = *if_match;
  if (wanted.size() >= 2 && wanted.front() == '"' && wanted.back() == '"')
    wanted = wanted.substr(1, wanted.size() - 2);
  if (wanted != row.etag) {
    throw precondition_failed(fmt::format(
        "the {} changed since you read it (etag is now \"{}\"); read it again and retry",
        kind.singular, row.etag));
  }
}

json present(store::Database& db, const RealizationView* view, const Kind& kind, const Row& row) {
  json out = {{"id", row.id}};
  if (kind.tenant_owned) out["tenant_id"] = row.tenant_id.empty() ? json() : json(row.tenant_id);
  for (const auto& [key, value] : row.fields.items()) out[key] = value;
  out["etag"] = row.etag;
  add_computed(db, kind, out, view);
  return out;
}

// id/tenant_id/etag in a body must agree with the request (they are echoed
// back from a GET); a tenant names only itself.
void check_envelope(const Kind& kind, const Principal& who, const json& body, const std::string& id,
                    Row& row) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  if (body.contains("id") && body["id"] != id)
    throw invalid("/id", "does not match the id of the URL");
  if (kind.tenant_owned && body.contains("tenant_id")) {
    if (!body["tenant_id"].is_string()) throw invalid("/tenant_id", "must be a string");
    const std::string tenant = body["tenant_id"].get<std::string>();
    if (!who.is_admin() && tenant != who.tenant_id) {
      throw forbidden("/tenant_id: a tenant creates objects for itself only",
                      {{"/tenant_id", "is not yours"}});
    }
    if (!Uuid::parse(tenant))
      throw invalid("/tenant_id", fmt::format("\"{}\" is not a UUID", tenant));
    row.tenant_id = tenant;
  }
}

// The kind's own rules run even when fields failed their checks, so that
// one answer names every bad field (docs/api.md: a bad DNS server must not
// hide a bad range). Their errors on fields that have one already are left
// out, and nothing they did stays: the write rolls back. Only for kinds
// whose rules read every optional field through contains()
// (Rules::partial_fields): the others assume valid fields, and their rules
// run once the fields are.
bool rules_take_partial_fields(const Kind& kind) { return rules_of(kind).partial_fields; }

template <class F>
void run_rules(const Kind& kind, std::vector<FieldError>& errors, F&& rules) {
  if (errors.empty()) {
    rules();
    return;
  }
  const bool required_missing = std::any_of(
      errors.begin(), errors.end(), [](const FieldError& e) { return e.message == "is required"; });
  if (!rules_take_partial_fields(kind) || required_missing) throw invalid_fields(std::move(errors));
  try {
    rules();
  } catch (const Problem& p) {
    if (p.status() == 400) {
      for (const auto& e : p.errors()) {
        const bool known = std::any_of(errors.begin(), errors.end(), [&](const FieldError& x) {
          return e.field == x.field || e.field.rfind(x.field + "/", 0) == 0 ||
                 x.field.rfind(e.field + "/", 0) == 0;
        });
        if (!known) errors.push_back(e);
      }
    }
  } catch (const std::exception&) {
    // A rule that needed a field the checks refused: that field is named.
  }
  throw invalid_fields(std::move(errors));
}

template <class F>
auto with_conflicts(F&& f) {
  try {
    return f();
  } catch (const store::StoreError& e) {
    if (e.is_constraint())
      throw conflict(fmt::format("the change conflicts with existing objects: {}", e.what()));
    throw;
  }
}

}  // namespace

// Change-log rows kept: a replica that falls further behind reloads
// everything. Pruned every kPruneEvery sequences.
constexpr int64_t kChangeLogKept = 100000;
constexpr int64_t kPruneEvery = 1000;

Service::Service(store::Store& store) : store_(store) {
  store_.write([&](store::Database& db) {
    grant_what_tenants_use(db);
    applied_seq_ = store::ChangeLog(db).last();
  });
  store_.set_after_begin([this](store::Database& db) {
    // What others committed since this replica last looked comes first, so
    // the write's checks (and the guard's model) see it.
    for (auto others = others_changes(db); !others.empty(); others = others_changes(db)) {
      hints_.clear();  // others may have freed what the hints skip
      if (guard_.follow) guard_.follow(others);
      for (auto& c : others) followed_.push_back(std::move(c));
    }
  });
  store_.set_before_commit([this](store::Database& db) { log_changes(db); });
  committed_seq_ = applied_seq_;
  store_.set_on_rollback([this] {
    pending_.clear();
    followed_.clear();
    applied_seq_ = committed_seq_;
    hints_.clear();
    sequence_out_ = nullptr;
    if (guard_.on_end) guard_.on_end(false);
  });
  store_.set_on_commit([this] {
    if (guard_.on_end) guard_.on_end(true);
    uint64_t* sequence = std::exchange(sequence_out_, nullptr);
    committed_seq_ = applied_seq_;
    if (!followed_.empty()) {
      if (sink_) sink_(std::move(followed_));
      followed_.clear();
    }
    if (pending_.empty()) return;
    const uint64_t given = sink_ ? sink_(std::move(pending_)) : 0;
    if (sequence != nullptr) *sequence = given;
    pending_.clear();
  });
}

std::vector<Change> Service::others_changes(store::Database& db) {
  std::vector<Change> out;
  // Each object once, in the order of its first change, with its newest.
  std::vector<std::pair<std::string, std::string>> objects;
  std::map<std::pair<std::string, std::string>, int64_t> newest;
  int64_t last = applied_seq_;
  for (auto& entry : store::ChangeLog(db).since(applied_seq_, 10000)) {
    if (entry.seq != last + 1 && out.empty() && objects.empty()) {
      out.push_back({kResyncAll, "", std::nullopt});  // pruned past us: reload all
    }
    last = entry.seq;
    std::pair<std::string, std::string> object{std::move(entry.collection),
                                               std::move(entry.object_id)};
    if (!newest.contains(object)) objects.push_back(object);
    newest[object] = entry.seq;
  }
  if (last == applied_seq_) return out;
  applied_seq_ = last;
  if (!out.empty()) out.back().log_seq = last;
  for (const auto& object : objects) {
    const Kind* k = find_kind(object.first);
    if (k == nullptr) continue;
    auto row = load_row(db, *k, object.second);
    out.push_back({object.first, object.second, row ? std::optional(row->fields) : std::nullopt});
    out.back().log_seq = newest[object];
  }
  // A batch of 10000 may not be all: the caller comes back.
  return out;
}

void Service::log_changes(store::Database& db) {
  if (pending_.empty()) return;
  std::vector<store::ChangeLog::Entry> entries;
  bool prune = false;
  for (auto& c : pending_) {
    c.log_seq = ++applied_seq_;
    entries.push_back({c.log_seq, c.collection, c.id});
    prune = prune || applied_seq_ % kPruneEvery == 0;
  }
  store::ChangeLog log(db);
  log.append(entries);
  if (prune) log.prune_through(applied_seq_ - kChangeLogKept);
  store::announce(db, std::to_string(applied_seq_));
}

void Service::follow_changes() {
  store_.exclusive([&](store::Database& db) {
    for (auto changes = others_changes(db); !changes.empty(); changes = others_changes(db)) {
      hints_.clear();
      if (guard_.follow) guard_.follow(changes);
      if (sink_) sink_(std::move(changes));
    }
    committed_seq_ = applied_seq_;
  });
}

template <class F>
Written Service::write(F&& f) {
  Written out;
  out.object = with_conflicts([&] {
    return store_.write([&](store::Database& db) {
      sequence_out_ = &out.sequence;
      return f(db, out);
    });
  });
  return out;
}

void Service::changed(const Kind& kind, const Row& row, const Row* before) {
  pending_.push_back({kind.collection, row.id, row.fields,
                      before != nullptr ? std::optional(before->fields) : std::nullopt});
  guard_check();
}

void Service::deleted(const Kind& kind, const Row& before) {
  pending_.push_back({kind.collection, before.id, std::nullopt, before.fields});
  guard_check();
}

// A tenant's objects of one collection stop at its quota: one tenant must
// not exhaust what all share (VSIDs, MACs, an external pool's addresses).
void Service::check_quota(store::Database& db, const Kind& kind, const Row& row) {
  const long long fallback = quotas_.of(kind.collection);
  if (fallback < 0 || row.tenant_id.empty()) return;
  const std::string field = "quota_" + kind.table;
  long long limit = fallback;
  if (auto tenant = load_row(db, model::kind("tenants"), row.tenant_id);
      tenant && tenant->fields.contains(field) && tenant->fields[field].is_number_integer()) {
    limit = tenant->fields[field].get<long long>();
  }
  const long long used = store::TenantUsage(db).used(row.tenant_id, kind.collection);
  if (used >= limit) {
    throw conflict(fmt::format("tenant {} has {} {}s, its quota; an administrator may raise "
                               "{} on the tenant",
                               row.tenant_id, used, kind.singular, field),
                   {{"/", fmt::format("over the quota of {} {}s", limit, kind.singular)}});
  }
}

// tenant_usage (migrations/0003) follows every create and delete of the
// collections with a quota, in the same transaction.
void Service::count_usage(store::Database& db, const Kind& kind, const Row& row, int delta) {
  if (quotas_.of(kind.collection) < 0 || row.tenant_id.empty()) return;
  store::TenantUsage(db).add(row.tenant_id, kind.collection, delta);
}

void Service::guard_check() {
  if (guard_.check) guard_.check(pending_);
}

std::optional<Principal> Service::authenticate(std::string_view token) {
  const std::string hash = sha256_hex(token);
  return store_.read([&](store::Database& db) -> std::optional<Principal> {
    auto holder = store::Tokens(db).by_secret(hash);
    if (!holder) return std::nullopt;
    Principal p;
    p.token_id = std::move(holder->token_id);
    p.role = holder->role == "admin" ? Role::kAdmin : Role::kTenant;
    p.tenant_id = std::move(holder->tenant_id);
    return p;
  });
}

std::optional<std::string> Service::bootstrap_admin_token() {
  return store_.write([&](store::Database& db) -> std::optional<std::string> {
    if (store::Tokens(db).admins() > 0) return std::nullopt;
    Row row;
    row.id = new_uuid();
    row.etag = new_etag();
    row.fields = {{"name", "first admin token"}, {"role", "admin"}};
    const Principal system{Role::kAdmin, "", ""};
    before_write(db, hints_, kind("tokens"), system, row, nullptr);
    insert_row(db, kind("tokens"), row);
    return row.secret;
  });
}

json Service::insert_new(store::Database& db, const Kind& kind, const Principal& who, Row& row,
                         std::vector<FieldError>& errors) {
  run_rules(kind, errors, [&] { before_write(db, hints_, kind, who, row, nullptr); });
  check_quota(db, kind, row);
  insert_row(db, kind, row);
  count_usage(db, kind, row, +1);
  changed(kind, row, nullptr);
  json out = present(db, realization_, kind, row);
  if (!row.secret.empty()) out["token"] = row.secret;  // shown once, never stored
  return out;
}

Written Service::create(const Principal& who, const Kind& kind, const json& body) {
  require_collection_access(who, kind, Use::kWrite);
  Row row;
  row.id = new_uuid();
  if (body.is_object() && body.contains("id") && !body["id"].is_string())
    throw invalid("/id", "must be a UUID string");
  check_envelope(kind, who, body, body.is_object() ? body.value("id", row.id) : row.id, row);
  if (body.contains("id")) {
    require_uuid(body["id"].is_string() ? body["id"].get<std::string>() : "");
    row.id = body["id"].get<std::string>();
  }
  std::vector<FieldError> errors;
  row.fields = check_fields(kind, who, body, Write::kCreate, nullptr, &errors);
  check_placement(realization_, kind, row.fields);
  row.etag = new_etag();
  row.fields["created_at"] = rfc3339(std::chrono::system_clock::now());
  return write([&](store::Database& db, Written&) {
    if (load_row(db, kind, row.id))
      throw conflict(fmt::format("a {} with id {} exists already", kind.singular, row.id));
    return insert_new(db, kind, who, row, errors);
  });
}

Written Service::put(const Principal& who, const Kind& kind, const std::string& id,
                     const json& body, const std::optional<std::string>& if_match) {
  require_collection_access(who, kind, Use::kWrite);
  require_uuid(id);
  return write([&](store::Database& db, Written& written) {
    auto existing = load_row(db, kind, id);
    if (existing && !visible_to(who, kind, *existing)) throw no_such(kind, id);
    Row row;
    row.id = id;
    check_envelope(kind, who, body, id, row);
    if (!existing) {
      if (if_match && *if_match != "*")
        throw precondition_failed(
            fmt::format("there is no {} with id {} to match", kind.singular, id));
      if (if_match)
        throw precondition_failed(fmt::format("there is no {} with id {}", kind.singular, id));
      std::vector<FieldError> errors;
      row.fields = check_fields(kind, who, body, Write::kCreate, nullptr, &errors);
      check_placement(realization_, kind, row.fields);
      row.etag = new_etag();
      row.fields["created_at"] = rfc3339(std::chrono::system_clock::now());
      written.created = true;
      return insert_new(db, kind, who, row, errors);
    }
    check_if_match(kind, *existing, if_match);
    if (!row.tenant_id.empty() && row.tenant_id != existing->tenant_id)
      throw invalid("/tenant_id", "cannot be changed");
    row.tenant_id = existing->tenant_id;
    std::vector<FieldError> errors;
    row.fields = check_fields(kind, who, body, Write::kReplace, existing->fields, &errors);
    check_placement(realization_, kind, row.fields);
    if (errors.empty() && row.fields == existing->fields)
      return present(db, realization_, kind, *existing);  // idempotent
    row.etag = new_etag();
    run_rules(kind, errors, [&] { before_write(db, hints_, kind, who, row, &*existing); });
    update_row(db, kind, row);
    changed(kind, row, &*existing);
    return present(db, realization_, kind, row);
  });
}

json Service::get(const Principal& who, const Kind& kind, const std::string& id) {
  require_collection_access(who, kind, Use::kRead);
  return store_.read([&](store::Database& db) {
    auto row = load_row(db, kind, id);
    if (!row || !readable_by(who, kind, *row)) throw no_such(kind, id);
    return present(db, realization_, kind, *row);
  });
}

namespace {

// `pattern` with `*` matching any run of characters, case-insensitively; a
// pattern without `*` is an exact, case-sensitive match.
bool name_matches(const std::string& pattern, const std::string& name) {
  if (pattern.find('*') == std::string::npos) return pattern == name;
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(name[n])) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The field ?name= matches: a VM NIC's vm_name, else its name.
const Field* name_field_of(const Kind& kind) {
  if (const Field* f = kind.field("name")) return f;
  return kind.field("vm_name");
}

}  // namespace

Page Service::list(const Principal& who, const Kind& kind,
                   const std::map<std::string, std::string>& filters, size_t limit,
                   const std::string& cursor) {
  require_collection_access(who, kind, Use::kRead);
  std::vector<std::pair<std::string, std::string>> where;
  std::optional<std::string> name_pattern, state;
  std::string sort = "created";
  const Field* name = name_field_of(kind);
  const bool stateful = kind.has_state;
  for (const auto& [key, value] : filters) {
    if (key == "sort") {
      if (value != "name" && value != "-name" && value != "created" && value != "-created")
        throw invalid("?sort", "must be name, -name, created or -created");
      if ((value == "name" || value == "-name") && name == nullptr)
        throw invalid("?sort", fmt::format("/{} has no names to sort by", kind.collection));
      sort = value;
      continue;
    }
    if (key == "name" && name != nullptr) {
      // Matching is O(pattern x name) per row: bounded as names are.
      if (value.size() > 255) throw invalid("?name", "is at most 255 bytes, as names are");
      name_pattern = value;
      continue;
    }
    if (key == "configuration_state" && stateful) {
      if (value != "success" && value != "pending" && value != "failure")
        throw invalid("?configuration_state", "must be success, pending or failure");
      state = value;
      continue;
    }
    const Field* f = kind.field(key);
    const bool tenant_filter = key == "tenant_id" && kind.tenant_owned && who.is_admin();
    if (!tenant_filter && (f == nullptr || !f->column)) {
      std::string allowed;
      for (const auto& field : kind.fields) {
        if (field.column) allowed += (allowed.empty() ? "" : ", ") + field.name;
      }
      if (kind.tenant_owned && who.is_admin())
        allowed += (allowed.empty() ? "" : ", ") + std::string("tenant_id");
      if (name != nullptr) allowed += (allowed.empty() ? "" : ", ") + std::string("name");
      if (stateful) allowed += ", configuration_state";
      throw invalid("?" + key, fmt::format("is not a filter of /{}{}", kind.collection,
                                           allowed.empty() ? "" : " (filters: " + allowed + ")"));
    }
    where.emplace_back(key, value);
  }
  if (!who.is_admin() && kind.tenant_owned) where.emplace_back("tenant_id", who.tenant_id);
  // An exact name of a name column is an index lookup.
  if (name_pattern && name->column && name_pattern->find('*') == std::string::npos) {
    where.emplace_back(name->name, *name_pattern);
    name_pattern.reset();
  }
  const bool by_name = sort == "name" || sort == "-name";
  const bool descending = sort == "-created";
  // Cursors: the last rowid given out (by creation), or "n" and an offset
  // (by name).
  int64_t after = 0;
  if (!cursor.empty()) {
    try {
      const std::string digits = by_name && cursor.front() == 'n' ? cursor.substr(1) : cursor;
      if (by_name != (cursor.front() == 'n')) throw std::invalid_argument("cursor");
      size_t used = 0;
      after = std::stoll(digits, &used);
      if (used != digits.size() || after < 0) throw std::invalid_argument("cursor");
    } catch (const std::exception&) {
      throw invalid("?cursor", "is not a cursor this server gave out for this order");
    }
  }
  store::Objects::Scan scan{.equal = {}, .after = std::nullopt, .descending = descending};
  if (!by_name && !cursor.empty()) scan.after = after;
  for (const auto& [column, value] : where) scan.equal.emplace_back(column, value);
  return store_.read([&](store::Database& db) {
    Page page;
    std::vector<std::pair<int64_t, json>> matched;
    // Rows are read until a page and one more matched (by creation), or all
    // of them (by name, sorted here).
    objects(db, kind).scan(scan, [&](store::ObjectRow&& stored) {
      if (!by_name && matched.size() == limit + 1) return false;
      const int64_t rowid = stored.rowid;
      const Row row = to_row(std::move(stored));
      if (name_pattern && !name_matches(*name_pattern, row.fields.value(name->name, "")))
        return true;
      json item = present(db, realization_, kind, row);
      if (state && (!item.contains("configuration_state") ||
                    item["configuration_state"].value("status", "") != *state))
        return true;
      matched.emplace_back(rowid, std::move(item));
      return true;
    });
    if (by_name) {
      auto key = [&](const json& o) {
        std::string n = o.value(name->name, "");
        std::transform(n.begin(), n.end(), n.begin(), ::tolower);
        return std::pair{n, o.at("id").get<std::string>()};
      };
      std::stable_sort(matched.begin(), matched.end(), [&](const auto& a, const auto& b) {
        return sort == "name" ? key(a.second) < key(b.second) : key(b.second) < key(a.second);
      });
      const size_t from = std::min(static_cast<size_t>(after), matched.size());
      for (size_t k = from; k < matched.size() && page.items.size() < limit; ++k)
        page.items.push_back(std::move(matched[k].second));
      if (from + limit < matched.size()) page.next = fmt::format("n{}", from + limit);
      return page;
    }
    for (size_t k = 0; k < matched.size() && k < limit; ++k)
      page.items.push_back(std::move(matched[k].second));
    if (matched.size() > limit) page.next = std::to_string(matched[limit - 1].first);
    return page;
  });
}

void Service::record_link_mtus(const std::string& host_id, uint16_t uplink, uint16_t external) {
  const Kind& hosts = kind(Host::meta.collection);
  write([&](store::Database& db, Written&) {
    auto existing = load_row(db, hosts, host_id);
    if (!existing) return json();
    Host host = decode<Host>(existing->fields);
    const Host before = host;
    if (uplink != 0) host.uplink_mtu = uplink;
    if (external != 0) host.external_mtu = external;
    if (host.uplink_mtu == before.uplink_mtu && host.external_mtu == before.external_mtu)
      return json();
    Row row = *existing;
    encode_into(host, row.fields);
    row.etag = new_etag();
    update_row(db, hosts, row);
    changed(hosts, row, &*existing);
    return json();
  });
}

Written Service::patch(const Principal& who, const Kind& kind, const std::string& id,
                       const json& patch, const std::optional<std::string>& if_match) {
  require_collection_access(who, kind, Use::kWrite);
  return write([&](store::Database& db, Written&) {
    auto existing = load_row(db, kind, id);
    if (!existing || !visible_to(who, kind, *existing)) throw no_such(kind, id);
    check_if_match(kind, *existing, if_match);
    Row row = *existing;
    Row probe;
    check_envelope(kind, who, patch, id, probe);
    if (!probe.tenant_id.empty() && probe.tenant_id != existing->tenant_id)
      throw invalid("/tenant_id", "cannot be changed");
    std::vector<FieldError> errors;
    row.fields = check_fields(kind, who, patch, Write::kPatch, existing->fields, &errors);
    check_placement(realization_, kind, row.fields);
    if (errors.empty() && row.fields == existing->fields)
      return present(db, realization_, kind, *existing);
    row.etag = new_etag();
    run_rules(kind, errors, [&] { before_write(db, hints_, kind, who, row, &*existing); });
    update_row(db, kind, row);
    changed(kind, row, &*existing);
    return present(db, realization_, kind, row);
  });
}

uint64_t Service::remove(const Principal& who, const Kind& kind, const std::string& id,
                         const std::optional<std::string>& if_match) {
  require_collection_access(who, kind, Use::kWrite);
  return write([&](store::Database& db, Written&) {
           auto existing = load_row(db, kind, id);
           if (!existing || !visible_to(who, kind, *existing)) throw no_such(kind, id);
           check_if_match(kind, *existing, if_match);
           before_delete(db, hints_, kind, *existing);
           delete_row(db, kind, id);
           count_usage(db, kind, *existing, -1);
           deleted(kind, *existing);
           return json();
         })
      .sequence;
}

std::map<std::string, int64_t> Service::counts() {
  return store_.read([&](store::Database& db) {
    std::map<std::string, int64_t> out;
    for (const auto& k : kinds()) out[k.collection] = objects(db, k).count();
    return out;
  });
}

}  // namespace vnet::model
