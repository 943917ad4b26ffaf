// The network model's verbs for any collection of DESIGN.md: create, put,
// get, list, patch, delete, each checked against who asks. No HTTP here:
// the API layer maps requests to these calls and Problems to responses.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/change.h"
#include "controller/model/fields.h"
#include "controller/model/kinds.h"
#include "controller/model/rows.h"
#include "controller/store/store.h"

namespace vnet::model {

struct Row;

struct Page {
  nlohmann::json items = nlohmann::json::array();
  std::optional<std::string> next;  // cursor of the next page
};

// What a write did: the object as GET shows it, the sequence number the
// change sink gave the write's changes (what ?wait=realized waits for; 0
// when it changed nothing, as an idempotent PUT), and whether a PUT created
// the object.
struct Written {
  nlohmann::json object;
  uint64_t sequence = 0;
  bool created = false;
};

class Service {
 public:
  static constexpr size_t kMaxLimit = 1000;
  static constexpr size_t kDefaultLimit = 100;

  explicit Service(store::Store& store);

  // The principal a bearer token stands for, if the token is known.
  std::optional<Principal> authenticate(std::string_view token);
  // Creates an admin token when none exists (first start); returns its secret.
  std::optional<std::string> bootstrap_admin_token();

  Written create(const Principal& who, const Kind& kind, const nlohmann::json& body);
  Written put(const Principal& who, const Kind& kind, const std::string& id,
              const nlohmann::json& body, const std::optional<std::string>& if_match);
  nlohmann::json get(const Principal& who, const Kind& kind, const std::string& id);
  // filters: field name -> value, for the kind's reference fields (and
  // tenant_id for an admin); anything else is a 400.
  Page list(const Principal& who, const Kind& kind,
            const std::map<std::string, std::string>& filters, size_t limit,
            const std::string& cursor);
  Written patch(const Principal& who, const Kind& kind, const std::string& id,
                const nlohmann::json& patch, const std::optional<std::string>& if_match);
  // The sequence of the deletion (as Written's).
  uint64_t remove(const Principal& who, const Kind& kind, const std::string& id,
                  const std::optional<std::string>& if_match);

  // What a host's agent reported of its uplink's and external interface's
  // MTUs (the southbound's hello; 0: not reported): stored in the host's
  // read-only uplink_mtu and external_mtu when they differ, as a write of
  // its own (the host's ports are recompiled with the uplink's). Nothing
  // when the host is gone.
  void record_link_mtus(const std::string& host_id, uint16_t uplink, uint16_t external);

  // Objects by collection, for /metrics.
  std::map<std::string, int64_t> counts();

  // Receives each committed write's changes, in commit order, under the
  // store's write lock (so it must be quick), and returns the sequence
  // number it gave them.
  using ChangeSink = std::function<uint64_t(std::vector<Change>)>;
  void set_change_sink(ChangeSink sink) { sink_ = std::move(sink); }
  void set_realization(const RealizationView* view) { realization_ = view; }
  // Runs at the end of every write, under the write lock, with the
  // transaction's changes so far; throws a Problem to refuse the write (the
  // policy guard: compiler/guard.h). `on_end(true)` after a commit,
  // `on_end(false)` after a rollback.
  struct Guard {
    std::function<void(const std::vector<Change>&)> check;
    std::function<void(bool committed)> on_end;
    // Other replicas' committed changes (kResyncAll: reload everything),
    // applied without a check.
    std::function<void(const std::vector<Change>&)> follow = {};
  };
  void set_guard(Guard guard) { guard_ = std::move(guard); }
  // Several replicas on one database (docs/store.md): every write records
  // its changes in the change log, and first hands the sink whatever other
  // replicas committed since this one last looked (reloaded from the
  // database, so the newest state wins). follow_changes() does the same
  // between writes: the replica's follower calls it when the store
  // announces a commit.
  void follow_changes();
  // The quotas of tenants that set none (kinds.h); checked on every create.
  void set_quota_defaults(QuotaDefaults quotas) { quotas_ = quotas; }

 private:
  // Runs f(db, written) in a write transaction; f returns the object and
  // may set `created`; the sequence is filled in at commit.
  template <class F>
  Written write(F&& f);
  // Inserts a new object (its fields checked, `errors` those that failed)
  // after its kind's rules and quota: what GET shows of it.
  nlohmann::json insert_new(store::Database& db, const Kind& kind, const Principal& who, Row& row,
                            std::vector<FieldError>& errors);
  void changed(const Kind& kind, const Row& row, const Row* before);
  void deleted(const Kind& kind, const Row& before);
  void guard_check();
  void check_quota(store::Database& db, const Kind& kind, const Row& row);
  void count_usage(store::Database& db, const Kind& kind, const Row& row, int delta);
  // Other replicas' changes since applied_seq_, as Changes of the objects'
  // current rows (a resync marker when the log was pruned past it).
  std::vector<Change> others_changes(store::Database& db);
  void log_changes(store::Database& db);

  store::Store& store_;
  ChangeSink sink_;
  std::vector<Change> pending_;   // guarded by the store's write lock
  std::vector<Change> followed_;  // others' changes read in this write's transaction
  AllocationHints hints_;         // guarded by the store's write lock
  int64_t applied_seq_ = 0;       // guarded by the store's write lock
  int64_t committed_seq_ = 0;     // applied_seq_ as of the last commit: a rollback returns to it
  uint64_t* sequence_out_ = nullptr;  // the running write's Written::sequence (write lock)
  const RealizationView* realization_ = nullptr;
  Guard guard_;
  QuotaDefaults quotas_;
};

}  // namespace vnet::model
