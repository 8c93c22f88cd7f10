#include "cluster/protocol.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace mammosweep::cluster {
namespace {

using nlohmann::json;

// JSON has no NaN or infinity: NaN -> null, +/-inf -> "inf" / "-inf".
json num(double v) {
  if (std::isnan(v)) return nullptr;
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

// Reads fields of one message, naming the message and field in every error.
class Reader {
 public:
  Reader(const json& j, const char* message) : j_(j), message_(message) {}

  const json& field(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end()) throw error(key, "missing");
    return *it;
  }
  std::string str(const char* key) const {
    const json& v = field(key);
    if (!v.is_string()) throw error(key, "expected a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::int64_t integer(const char* key) const { return integer_of(field(key), key); }
  int int32(const char* key) const {
    const std::int64_t v = integer(key);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
      throw error(key, fmt::format("{} does not fit an int", v));
    }
    return static_cast<int>(v);
  }
  double real(const char* key) const { return real_of(field(key), key); }
  std::vector<int> ints(const char* key) const {
    const json& v = field(key);
    if (!v.is_array()) throw error(key, "expected an array, got " + v.dump());
    std::vector<int> out;
    for (const json& e : v) out.push_back(static_cast<int>(integer_of(e, key)));
    return out;
  }
  Reader object(const char* key) const {
    const json& v = field(key);
    if (!v.is_object()) throw error(key, "expected an object, got " + v.dump());
    return Reader(v, message_);
  }
  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  double real_of(const json& v, const char* key) const {
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (v.is_string()) {
      const auto s = v.get<std::string>();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
    }
    if (!v.is_number()) {
      throw error(key, "expected a number, null, \"inf\" or \"-inf\", got " + v.dump());
    }
    return v.get<double>();
  }

  std::invalid_argument error(const char* key, const std::string& what) const {
    return std::invalid_argument(
        fmt::format("protocol: {} message, field '{}': {}", message_, key, what));
  }

 private:
  std::int64_t integer_of(const json& v, const char* key) const {
    if (!v.is_number_integer()) throw error(key, "expected an integer, got " + v.dump());
    return v.get<std::int64_t>();
  }

  const json& j_;
  const char* message_;
};

json split_to_json(const results::SplitMetrics& m) {
  return json{{"loss", num(m.loss)},
              {"accuracy", num(m.accuracy)},
              {"precision", num(m.precision)},
              {"recall", num(m.recall)},
              {"specificity", num(m.specificity)},
              {"f1", num(m.f1)},
              {"auc", num(m.auc)},
              {"tp", m.cm.tp},
              {"fp", m.cm.fp},
              {"tn", m.cm.tn},
              {"fn", m.cm.fn}};
}

results::SplitMetrics split_from_json(const Reader& r) {
  results::SplitMetrics m;
  m.loss = r.real("loss");
  m.accuracy = r.real("accuracy");
  m.precision = r.real("precision");
  m.recall = r.real("recall");
  m.specificity = r.real("specificity");
  m.f1 = r.real("f1");
  m.auc = r.real("auc");
  m.cm.tp = r.integer("tp");
  m.cm.fp = r.integer("fp");
  m.cm.tn = r.integer("tn");
  m.cm.fn = r.integer("fn");
  return m;
}

json to_json(const Assign& m) {
  return json{{"trial_text", m.trial_text},
              {"attempt", m.attempt},
              {"group_ranks", m.group_ranks},
              {"resume_from_epoch", m.resume_from_epoch}};
}
json to_json(const EpochReport& m) {
  const auto& e = m.record;
  json j{{"trial_id", m.trial_id},
         {"record",
          {{"epoch", e.epoch},
           {"train", split_to_json(e.train)},
           {"val", split_to_json(e.val)},
           {"lr", num(e.lr)},
           {"seconds", num(e.seconds)},
           {"images_per_second", num(e.images_per_second)}}}};
  if (m.val_predictions) {
    json labels = json::array(), scores = json::array();
    for (auto l : m.val_predictions->labels) labels.push_back(static_cast<int>(l));
    for (float s : m.val_predictions->scores) scores.push_back(num(s));
    j["val_predictions"] = {{"labels", labels}, {"scores", scores}};
  }
  return j;
}
json to_json(const Done& m) {
  json j{{"trial_id", m.trial_id},
         {"status", results::to_string(m.status)},
         {"epochs_completed", m.epochs_completed},
         {"reason", m.reason}};
  j["best_epoch"] = m.best_epoch ? json(*m.best_epoch) : json(nullptr);
  return j;
}
json to_json(const Failed& m) {
  return json{{"trial_id", m.trial_id},
              {"reason", m.reason},
              {"kind", to_string(m.kind)},
              {"rank", m.rank},
              {"resumable_epoch", m.resumable_epoch}};
}
json to_json(const Stop& m) {
  return json{{"trial_id", m.trial_id}, {"reason", m.reason}, {"stop", m.stop ? 1 : 0},
              {"threads", m.threads}};
}
json to_json(const Shutdown&) { return json::object(); }
json to_json(const Ready& m) {
  return json{{"rank", m.rank},
              {"hostname", m.hostname},
              {"local_rank", m.local_rank},
              {"device", m.device},
              {"threads", m.threads}};
}
json to_json(const CheckpointNow& m) { return json{{"trial_id", m.trial_id}}; }

MessageBody from_json(MessageType type, const json& j) {
  const Reader r(j, to_string(type));
  switch (type) {
    case MessageType::assign: {
      Assign m;
      m.trial_text = r.str("trial_text");
      m.attempt = r.int32("attempt");
      m.group_ranks = r.ints("group_ranks");
      m.resume_from_epoch = r.int32("resume_from_epoch");
      if (m.group_ranks.empty()) throw r.error("group_ranks", "the group is empty");
      return m;
    }
    case MessageType::epoch_report: {
      EpochReport m;
      m.trial_id = r.str("trial_id");
      const Reader rec = r.object("record");
      m.record.epoch = rec.int32("epoch");
      m.record.train = split_from_json(rec.object("train"));
      m.record.val = split_from_json(rec.object("val"));
      m.record.lr = rec.real("lr");
      m.record.seconds = rec.real("seconds");
      m.record.images_per_second = rec.real("images_per_second");
      if (r.has("val_predictions")) {
        const Reader p = r.object("val_predictions");
        const json& labels = p.field("labels");
        const json& scores = p.field("scores");
        if (!labels.is_array() || !scores.is_array() || labels.size() != scores.size()) {
          throw r.error("val_predictions",
                        fmt::format("expected arrays labels and scores of equal length, got {} "
                                    "and {} entries",
                                    labels.size(), scores.size()));
        }
        results::Predictions preds;
        for (const json& l : labels) {
          if (!l.is_number_integer() || (l.get<int>() != 0 && l.get<int>() != 1)) {
            throw r.error("val_predictions.labels", "expected 0 or 1, got " + l.dump());
          }
          preds.labels.push_back(static_cast<std::int8_t>(l.get<int>()));
        }
        for (const json& s : scores) {
          preds.scores.push_back(static_cast<float>(p.real_of(s, "val_predictions.scores")));
        }
        m.val_predictions = std::move(preds);
      }
      return m;
    }
    case MessageType::done: {
      Done m;
      m.trial_id = r.str("trial_id");
      m.status = results::trial_status_from_string(r.str("status"));
      if (m.status != results::TrialStatus::done &&
          m.status != results::TrialStatus::stopped_early) {
        throw r.error("status", fmt::format("expected done or stopped_early, got {}",
                                            results::to_string(m.status)));
      }
      m.epochs_completed = r.int32("epochs_completed");
      m.reason = r.str("reason");
      if (r.has("best_epoch")) m.best_epoch = r.int32("best_epoch");
      return m;
    }
    case MessageType::failed: {
      Failed m;
      m.trial_id = r.str("trial_id");
      m.reason = r.str("reason");
      m.kind = results::failure_kind_from_string(r.str("kind"));
      m.rank = r.int32("rank");
      m.resumable_epoch = r.int32("resumable_epoch");
      return m;
    }
    case MessageType::stop: {
      Stop m;
      m.trial_id = r.str("trial_id");
      m.reason = r.str("reason");
      m.stop = r.int32("stop") != 0;
      m.threads = r.int32("threads");
      if (m.threads < 0) throw r.error("threads", "expected 0 or more, got " + std::to_string(m.threads));
      return m;
    }
    case MessageType::shutdown:
      return Shutdown{};
    case MessageType::ready: {
      Ready m;
      m.rank = r.int32("rank");
      m.hostname = r.str("hostname");
      m.local_rank = r.int32("local_rank");
      m.device = r.int32("device");
      m.threads = r.int32("threads");
      if (m.threads < 1) throw r.error("threads", "expected 1 or more, got " + std::to_string(m.threads));
      return m;
    }
    case MessageType::checkpoint_now: {
      CheckpointNow m;
      m.trial_id = r.str("trial_id");
      return m;
    }
  }
  throw std::invalid_argument(fmt::format("protocol: unknown message type {}", static_cast<int>(type)));
}

}  // namespace

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::assign: return "assign";
    case MessageType::epoch_report: return "epoch_report";
    case MessageType::done: return "done";
    case MessageType::failed: return "failed";
    case MessageType::stop: return "stop";
    case MessageType::shutdown: return "shutdown";
    case MessageType::ready: return "ready";
    case MessageType::checkpoint_now: return "checkpoint_now";
  }
  return "unknown";
}

MessageType type_of(const MessageBody& body) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::type; }, body);
}

MessageType Message::type() const { return type_of(body); }

std::string encode(const MessageBody& body) {
  return std::visit([](const auto& m) { return to_json(m).dump(); }, body);
}

MessageBody decode(MessageType type, const std::string& bytes) {
  json j;
  try {
    j = json::parse(bytes);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a huge number
    throw std::invalid_argument(
        fmt::format("protocol: {} message is not valid JSON: {}", to_string(type), e.what()));
  }
  if (!j.is_object()) {
    throw std::invalid_argument(
        fmt::format("protocol: {} message: expected a JSON object, got {}", to_string(type),
                    j.dump()));
  }
  return from_json(type, j);
}

void send_message(const MpiComm& comm, int dest, const MessageBody& body) {
  send_bytes(comm, dest, kTagBase + static_cast<int>(type_of(body)), encode(body));
}

std::optional<Message> recv_message(const MpiComm& comm, std::chrono::microseconds timeout,
                                    int source, const Backoff& backoff) {
  RecvOptions options;
  options.source = source;
  options.backoff = backoff;
  auto raw = recv_any(comm, timeout, options);
  if (!raw) return std::nullopt;
  const int index = raw->tag - kTagBase;
  if (index < 0 || index > static_cast<int>(MessageType::checkpoint_now)) {
    throw std::invalid_argument(fmt::format(
        "protocol: rank {} received tag {} from rank {}, which is not a protocol message "
        "(expected tags {}..{})",
        comm.rank(), raw->tag, raw->source, kTagBase,
        kTagBase + static_cast<int>(MessageType::checkpoint_now)));
  }
  const auto type = static_cast<MessageType>(index);
  Message msg;
  msg.source = raw->source;
  try {
    msg.body = decode(type, raw->bytes);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{} (sent by rank {} to rank {})", e.what(),
                                            raw->source, comm.rank()));
  }
  return msg;
}

}  // namespace mammosweep::cluster
