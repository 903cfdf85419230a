#include "gateway/policy/policy_engine.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/common/digest.h"
#include "gateway/common/files.h"
#include "gateway/common/records.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace iicc::policy {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

enum class ActionKind { kKeep, kDrop, kPseudonymise, kMask, kRequire, kDenyIf };

constexpr const char* kActionNames[] = {"keep", "drop", "pseudonymise", "mask", "require", "deny"};

struct CompiledCondition {
  const FieldDescriptor* field = nullptr;
  std::vector<int> enum_equals;  // For an enum field: `equals` as numbers.
  std::vector<std::string> equals;
  std::vector<std::string> starts_with;
  int char_position = -1;
  std::string char_one_of;
};

struct CompiledRule {
  ActionKind kind = ActionKind::kKeep;
  std::vector<CompiledCondition> when;
  std::string key_id;
  std::string pseudonym_prefix;            // "ps:<key_id>:"
  std::shared_ptr<const HmacSha256> hmac;  // Keyed once per key id.
  uint32_t keep_last = 0;
  std::vector<std::string> equals;
  std::vector<std::string> starts_with;
  std::string path;  // Canonical, without indexes: "cargo.driver.full_name".
  std::string reason;
  int line = 0;
};

// One field of the transform tree: the rules that decide it, and the rules
// deeper inside it.
struct Node {
  const FieldDescriptor* field = nullptr;  // Null for the root (iicc.v1.Record).
  std::vector<CompiledRule> transforms;
  std::vector<std::unique_ptr<Node>> children;

  // Built once the tree is complete (Plan()): every field of this node's
  // message in field-number order, each with its child node if it has one,
  // so that the hot path walks a table and never lists fields or looks up
  // names.
  struct Slot {
    const FieldDescriptor* field;
    const Node* child;
  };
  std::vector<Slot> plan;
  // The reflection of this node's message type (null for a scalar field).
  const Reflection* reflection = nullptr;
  // Kept whole without conditions and without rules inside: applying the
  // policy leaves this field as it is.
  bool plain_keep = false;

  Node* FindOrAdd(const FieldDescriptor* f) {
    for (auto& child : children) {
      if (child->field == f) return child.get();
    }
    children.push_back(std::make_unique<Node>());
    children.back()->field = f;
    return children.back().get();
  }

  void Plan(const Descriptor* type) {
    plain_keep = transforms.size() == 1 && transforms[0].when.empty() && transforms[0].kind == ActionKind::kKeep &&
                 children.empty();
    if (type == nullptr) return;  // A scalar field.
    reflection = google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->GetReflection();
    plan.clear();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      const Node* child = nullptr;
      for (auto& candidate : children) {
        if (candidate->field == f) child = candidate.get();
      }
      plan.push_back(Slot{f, child});
    }
    std::sort(plan.begin(), plan.end(),
              [](const Slot& a, const Slot& b) { return a.field->number() < b.field->number(); });
    for (auto& child : children) child->Plan(child->field->message_type());
  }
};

bool Present(const Reflection& reflection, const Message& message, const FieldDescriptor* field) {
  return field->is_repeated() ? reflection.FieldSize(message, field) > 0 : reflection.HasField(message, field);
}

struct Check {
  std::vector<const FieldDescriptor*> path;
  CompiledRule rule;
};

// The value of a singular string or enum field as text, without a copy;
// `scratch` backs it where the message cannot.
absl::string_view ValueText(const Reflection* reflection, const Message& message, const FieldDescriptor* field,
                            std::string* scratch) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) return reflection->GetEnum(message, field)->name();
  return reflection->GetStringReference(message, field, scratch);
}

// The same for element `index` of a repeated field.
absl::string_view RepeatedValueText(const Reflection* reflection, const Message& message, const FieldDescriptor* field,
                                    int index, std::string* scratch) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM)
    return reflection->GetRepeatedEnum(message, field, index)->name();
  return reflection->GetRepeatedStringReference(message, field, index, scratch);
}

bool Matches(absl::string_view value, const std::vector<std::string>& equals,
             const std::vector<std::string>& starts_with) {
  for (const std::string& candidate : equals) {
    if (value == candidate) return true;
  }
  for (const std::string& prefix : starts_with) {
    if (absl::StartsWith(value, prefix)) return true;
  }
  return false;
}

bool Holds(const CompiledCondition& condition, const Reflection* reflection, const Message& message) {
  // The common case, an enum equal to one of a few values, compares numbers.
  if (!condition.enum_equals.empty() && condition.starts_with.empty() && condition.char_position < 0) {
    const int value = reflection->GetEnumValue(message, condition.field);
    return std::find(condition.enum_equals.begin(), condition.enum_equals.end(), value) != condition.enum_equals.end();
  }
  std::string scratch;
  const absl::string_view value = ValueText(reflection, message, condition.field, &scratch);
  if ((!condition.equals.empty() || !condition.starts_with.empty()) &&
      !Matches(value, condition.equals, condition.starts_with)) {
    return false;
  }
  if (condition.char_position >= 0) {
    if (static_cast<size_t>(condition.char_position) >= value.size() ||
        condition.char_one_of.find(value[condition.char_position]) == std::string::npos) {
      return false;
    }
  }
  return true;
}

bool AllHold(const CompiledRule& rule, const Reflection* reflection, const Message& message) {
  for (const CompiledCondition& condition : rule.when) {
    if (!Holds(condition, reflection, message)) return false;
  }
  return true;
}

// DESIGN.md's pseudonym: "ps:<key_id>:" and the unpadded base64url of
// HMAC-SHA-256(key, canonical path || value).
std::string Pseudonym(const CompiledRule& rule, absl::string_view value) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const HmacSha256::Mac mac = rule.hmac->Compute({rule.path, value});
  static_assert(HmacSha256::kSize % 3 == 2, "the tail below encodes two bytes");
  char encoded[(HmacSha256::kSize * 4 + 2) / 3];
  char* next = encoded;
  size_t i = 0;
  for (; i + 3 <= mac.size(); i += 3) {
    const uint32_t group = (uint32_t{mac[i]} << 16) | (uint32_t{mac[i + 1]} << 8) | mac[i + 2];
    *next++ = kAlphabet[group >> 18];
    *next++ = kAlphabet[(group >> 12) & 63];
    *next++ = kAlphabet[(group >> 6) & 63];
    *next++ = kAlphabet[group & 63];
  }
  const uint32_t tail = (uint32_t{mac[i]} << 8) | mac[i + 1];
  *next++ = kAlphabet[tail >> 10];
  *next++ = kAlphabet[(tail >> 4) & 63];
  *next++ = kAlphabet[(tail << 2) & 63];
  std::string out;
  out.reserve(rule.pseudonym_prefix.size() + sizeof(encoded));
  out.append(rule.pseudonym_prefix).append(encoded, next - encoded);
  return out;
}

// `*` and the last keep_last characters (UTF-8 code points, never a cut
// byte sequence).
std::string Masked(const CompiledRule& rule, absl::string_view value) {
  size_t start = value.size();
  for (uint32_t kept = 0; kept < rule.keep_last && start > 0; ++kept) {
    do {
      --start;
    } while (start > 0 && (static_cast<unsigned char>(value[start]) & 0xC0) == 0x80);
  }
  return absl::StrCat("*", value.substr(start));
}

}  // namespace

// The compiled rules of one record type in one direction.
class CompiledRecordPolicy {
 public:
  bool keep_by_default = true;
  Node root;  // Fields of iicc.v1.Record.
  std::vector<Check> checks;

  absl::Status Apply(Message* record, std::vector<TraceEntry>* trace) const {
    std::vector<std::string> refusals;
    Crumbs crumbs;
    for (const Check& check : checks) RunCheck(check, *record, &crumbs, &refusals, trace);
    if (!refusals.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("refused by policy: ", absl::StrJoin(refusals, "; ")));
    }
    Transform(root, record, keep_by_default, "", trace);
    return absl::OkStatus();
  }

 private:
  static std::string Join(const std::string& prefix, const FieldDescriptor* field) {
    return prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
  }

  static void Note(std::vector<TraceEntry>* trace, std::string field, ActionKind kind, const CompiledRule* rule) {
    if (trace == nullptr) return;
    trace->push_back(TraceEntry{std::move(field),
                                rule == nullptr ? std::string("default drop") : kActionNames[static_cast<int>(kind)],
                                rule == nullptr ? 0 : rule->line, rule == nullptr ? std::string() : rule->reason});
  }

  // Where a check stands: the field at each depth and, for an element of a
  // repeated field, its index (-1 otherwise). Rendered only for a refusal.
  using Crumbs = absl::InlinedVector<std::pair<const FieldDescriptor*, int>, 8>;

  static std::string Render(const Crumbs& crumbs) {
    std::string out;
    for (const auto& [field, index] : crumbs) {
      if (!out.empty()) out.push_back('.');
      out.append(field->name());
      if (index >= 0) absl::StrAppend(&out, "[", index, "]");
    }
    return out;
  }

  static void Refuse(const CompiledRule& rule, const Crumbs& crumbs, std::vector<std::string>* refusals,
                     std::vector<TraceEntry>* trace) {
    std::string where = Render(crumbs);
    refusals->push_back(absl::StrCat(where, ": ", rule.reason));
    Note(trace, std::move(where), rule.kind, &rule);
  }

  static void RunCheck(const Check& check, const Message& message, Crumbs* crumbs, std::vector<std::string>* refusals,
                       std::vector<TraceEntry>* trace) {
    const size_t depth = crumbs->size();
    const FieldDescriptor* field = check.path[depth];
    const Reflection* reflection = message.GetReflection();
    const CompiledRule& rule = check.rule;
    crumbs->emplace_back(field, -1);
    if (depth + 1 == check.path.size()) {
      if (!AllHold(rule, reflection, message)) {
        // Nothing to check here.
      } else if (rule.kind == ActionKind::kRequire) {
        // HasField is presence for messages and optional fields, and "not the
        // default value" for proto3 scalars.
        const bool present =
            field->is_repeated() ? reflection->FieldSize(message, field) > 0 : reflection->HasField(message, field);
        if (!present) Refuse(rule, *crumbs, refusals, trace);
      } else if (field->is_repeated()) {  // deny_if
        std::string scratch;
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          if (Matches(RepeatedValueText(reflection, message, field, i, &scratch), rule.equals, rule.starts_with)) {
            crumbs->back().second = i;
            Refuse(rule, *crumbs, refusals, trace);
          }
        }
      } else {
        std::string scratch;
        if (reflection->HasField(message, field) &&
            Matches(ValueText(reflection, message, field, &scratch), rule.equals, rule.starts_with)) {
          Refuse(rule, *crumbs, refusals, trace);
        }
      }
    } else if (field->is_repeated()) {  // An intermediate message.
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        crumbs->back().second = i;
        RunCheck(check, reflection->GetRepeatedMessage(message, field, i), crumbs, refusals, trace);
      }
    } else {
      // An absent message reads as its default instance: a required field in
      // it is missing (unless the rule's conditions do not hold there), and
      // nothing in it can be denied.
      RunCheck(check, reflection->GetMessage(message, field), crumbs, refusals, trace);
    }
    crumbs->pop_back();
  }

  static void TransformStrings(const CompiledRule& rule, const Reflection* reflection, Message* message,
                               const FieldDescriptor* field) {
    auto apply = [&rule](absl::string_view value) {
      return rule.kind == ActionKind::kPseudonymise ? Pseudonym(rule, value) : Masked(rule, value);
    };
    std::string scratch;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        reflection->SetRepeatedString(message, field, i,
                                      apply(reflection->GetRepeatedStringReference(*message, field, i, &scratch)));
      }
    } else {
      reflection->SetString(message, field, apply(reflection->GetStringReference(*message, field, &scratch)));
    }
  }

  // Transforms the message(s) in `field` of `message` by `node`.
  static void Descend(const Node& node, const Reflection* reflection, Message* message, const FieldDescriptor* field,
                      bool keep_by_default, const std::string& here, std::vector<TraceEntry>* trace) {
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        Transform(node, reflection->MutableRepeatedMessage(message, field, i), keep_by_default,
                  trace != nullptr ? absl::StrCat(here, "[", i, "]") : std::string(), trace);
      }
    } else {
      Transform(node, reflection->MutableMessage(message, field), keep_by_default, here, trace);
    }
  }

  static void Transform(const Node& node, Message* message, bool keep_by_default, const std::string& prefix,
                        std::vector<TraceEntry>* trace) {
    const Reflection* reflection = node.reflection;
    // Every rule is chosen on the message as it arrived, before any sibling
    // is transformed: a condition never sees a pseudonym made here.
    struct Decision {
      const FieldDescriptor* field;
      const Node* child;
      const CompiledRule* rule;
    };
    absl::InlinedVector<Decision, 16> decisions;
    for (const Node::Slot& slot : node.plan) {
      // A field the policy leaves as it is needs a look only for the trace.
      if (trace == nullptr && (slot.child == nullptr ? keep_by_default : slot.child->plain_keep)) continue;
      if (!Present(*reflection, *message, slot.field)) continue;
      const CompiledRule* rule = nullptr;
      if (slot.child != nullptr) {
        for (const CompiledRule& candidate : slot.child->transforms) {
          if (AllHold(candidate, reflection, *message)) {
            rule = &candidate;
            break;
          }
        }
      }
      decisions.push_back(Decision{slot.field, slot.child, rule});
    }
    for (const auto& [field, child, rule] : decisions) {
      const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
      const std::string here = trace != nullptr ? Join(prefix, field) : std::string();
      if (rule == nullptr) {
        if (child != nullptr && is_message && !child->children.empty()) {
          Descend(*child, reflection, message, field, keep_by_default, here, trace);
        } else if (!keep_by_default) {
          reflection->ClearField(message, field);
          Note(trace, here, ActionKind::kDrop, nullptr);
        }
        continue;
      }
      Note(trace, here, rule->kind, rule);
      switch (rule->kind) {
        case ActionKind::kKeep:
          if (is_message && !child->children.empty()) Descend(*child, reflection, message, field, true, here, trace);
          break;
        case ActionKind::kDrop:
          reflection->ClearField(message, field);
          break;
        case ActionKind::kPseudonymise:
        case ActionKind::kMask:
          TransformStrings(*rule, reflection, message, field);
          break;
        case ActionKind::kRequire:
        case ActionKind::kDenyIf:
          break;  // Checks live in `checks`, never in the tree.
      }
    }
  }
};

namespace {

// Compiles the rules of one RecordPolicy; appends "source:line: problem" to
// `errors`.
class RecordPolicyCompiler {
 public:
  RecordPolicyCompiler(const std::string& source, const PseudonymKeys& keys, std::vector<std::string>* errors)
      : source_(source), keys_(keys), errors_(errors) {}

  std::unique_ptr<CompiledRecordPolicy> Compile(const v1::RecordPolicy& input,
                                                const google::protobuf::TextFormat::ParseInfoTree* tree, int entry_line,
                                                const std::string& where) {
    auto out = std::make_unique<CompiledRecordPolicy>();
    if (input.default_action() == v1::DEFAULT_ACTION_UNSPECIFIED) {
      Error(entry_line,
            absl::StrCat(where, ": default_action is required (DEFAULT_ACTION_KEEP or DEFAULT_ACTION_DROP)"));
    }
    out->keep_by_default = input.default_action() != v1::DEFAULT_ACTION_DROP;
    const FieldDescriptor* kind_field = KindField(input.record_type());
    const FieldDescriptor* rules_field = v1::RecordPolicy::descriptor()->FindFieldByName("rules");
    const FieldDescriptor* rule_field_field = v1::Rule::descriptor()->FindFieldByName("field");
    for (int i = 0; i < input.rules_size(); ++i) {
      int line = entry_line;
      if (tree != nullptr) {
        const auto* rule_tree = tree->GetTreeForNested(rules_field, i);
        const auto location =
            rule_tree != nullptr ? rule_tree->GetLocation(rule_field_field, -1) : tree->GetLocation(rules_field, i);
        line = location.line >= 0 ? location.line + 1 : tree->GetLocation(rules_field, i).line + 1;
      }
      CompileRule(input.rules(i), kind_field, line, out.get());
    }
    out->root.Plan(v1::Record::descriptor());
    return out;
  }

 private:
  static const FieldDescriptor* KindField(v1::RecordType type) {
    const Descriptor* record = v1::Record::descriptor();
    switch (type) {
      case v1::RECORD_TYPE_ENTERPRISE:
        return record->FindFieldByName("enterprise");
      case v1::RECORD_TYPE_CARGO:
        return record->FindFieldByName("cargo");
      case v1::RECORD_TYPE_INVESTMENT:
        return record->FindFieldByName("investment");
      default:
        return nullptr;
    }
  }

  void Error(int line, const std::string& message) {
    errors_->push_back(absl::StrCat(source_, ":", line, ": ", message));
  }

  void CompileRule(const v1::Rule& rule, const FieldDescriptor* kind_field, int line, CompiledRecordPolicy* out) {
    CompiledRule compiled;
    compiled.line = line;
    compiled.reason = rule.reason();
    compiled.path = rule.field();
    if (rule.reason().empty()) Error(line, absl::StrCat("rule for '", rule.field(), "': reason is required"));

    // Resolve the path.
    std::vector<const FieldDescriptor*> path;
    const Descriptor* message = v1::Record::descriptor();
    for (absl::string_view part : absl::StrSplit(rule.field(), '.')) {
      if (message == nullptr) {
        Error(line, absl::StrCat("field '", rule.field(), "': '", path.back()->name(), "' is not a message"));
        return;
      }
      const FieldDescriptor* field = message->FindFieldByName(std::string(part));
      if (field == nullptr) {
        Error(line, absl::StrCat("field '", rule.field(), "': no field '", part, "' in ", message->full_name()));
        return;
      }
      path.push_back(field);
      message = field->message_type();
    }
    if (path.empty() || rule.field().empty()) {
      Error(line, "rule without a field");
      return;
    }
    if (path.front() != kind_field) {
      Error(line, absl::StrCat("field '", rule.field(), "' is not in this entry's record type (starts with '",
                               kind_field == nullptr ? "?" : kind_field->name(), "')"));
      return;
    }
    if (path.size() == 1 && rule.action_case() != v1::Rule::kRequire) {
      Error(line, absl::StrCat("field '", rule.field(), "': name a field inside the record, not the record itself"));
      return;
    }
    const FieldDescriptor* leaf = path.back();
    const Descriptor* container = leaf->containing_type();
    const bool is_string =
        leaf->cpp_type() == FieldDescriptor::CPPTYPE_STRING && leaf->type() != FieldDescriptor::TYPE_BYTES;
    const bool is_enum = leaf->cpp_type() == FieldDescriptor::CPPTYPE_ENUM;

    switch (rule.action_case()) {
      case v1::Rule::kKeep:
        compiled.kind = ActionKind::kKeep;
        break;
      case v1::Rule::kDrop:
        compiled.kind = ActionKind::kDrop;
        break;
      case v1::Rule::kPseudonymise: {
        compiled.kind = ActionKind::kPseudonymise;
        if (!is_string) Error(line, absl::StrCat("pseudonymise needs a string field; '", rule.field(), "' is not one"));
        compiled.key_id = rule.pseudonymise().key_id();
        auto key = keys_.find(compiled.key_id);
        if (key == keys_.end()) {
          Error(line,
                absl::StrCat("pseudonymise: key_id '", compiled.key_id, "' is not among the gateway's pseudonym_keys"));
        } else {
          compiled.pseudonym_prefix = absl::StrCat("ps:", compiled.key_id, ":");
          std::shared_ptr<const HmacSha256>& hmac = hmacs_[compiled.key_id];
          if (hmac == nullptr) hmac = std::make_shared<const HmacSha256>(key->second);
          compiled.hmac = hmac;
        }
        break;
      }
      case v1::Rule::kMask:
        compiled.kind = ActionKind::kMask;
        compiled.keep_last = rule.mask().keep_last();
        if (!is_string) Error(line, absl::StrCat("mask needs a string field; '", rule.field(), "' is not one"));
        break;
      case v1::Rule::kRequire:
        compiled.kind = ActionKind::kRequire;
        break;
      case v1::Rule::kDenyIf:
        compiled.kind = ActionKind::kDenyIf;
        compiled.equals.assign(rule.deny_if().equals().begin(), rule.deny_if().equals().end());
        compiled.starts_with.assign(rule.deny_if().starts_with().begin(), rule.deny_if().starts_with().end());
        if (!is_string && !is_enum) {
          Error(line, absl::StrCat("deny_if needs a string or enum field; '", rule.field(), "' is neither"));
        }
        if (compiled.equals.empty() && compiled.starts_with.empty()) {
          Error(line, "deny_if needs at least one of equals, starts_with");
        }
        if (is_enum) CheckEnumNames(line, leaf, compiled.equals);
        break;
      case v1::Rule::ACTION_NOT_SET:
        Error(line, absl::StrCat("rule for '", rule.field(),
                                 "': no action (keep, drop, pseudonymise, mask, require, deny_if)"));
        return;
    }

    for (const v1::Condition& condition : rule.when()) {
      CompiledCondition c;
      c.field = container->FindFieldByName(condition.field());
      if (c.field == nullptr) {
        Error(line, absl::StrCat("condition: no field '", condition.field(), "' beside '", leaf->name(), "' in ",
                                 container->full_name()));
        continue;
      }
      if (c.field->is_repeated() || (c.field->cpp_type() != FieldDescriptor::CPPTYPE_STRING &&
                                     c.field->cpp_type() != FieldDescriptor::CPPTYPE_ENUM)) {
        Error(line, absl::StrCat("condition: '", condition.field(), "' must be a singular string or enum field"));
        continue;
      }
      c.equals.assign(condition.equals().begin(), condition.equals().end());
      c.starts_with.assign(condition.starts_with().begin(), condition.starts_with().end());
      if (condition.has_char_at()) {
        c.char_position = static_cast<int>(condition.char_at().position());
        c.char_one_of = condition.char_at().one_of();
        if (c.char_one_of.empty()) Error(line, "condition: char_at needs one_of");
      }
      if (c.equals.empty() && c.starts_with.empty() && c.char_position < 0) {
        Error(line, "condition: needs equals, starts_with or char_at");
      }
      if (c.field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
        CheckEnumNames(line, c.field, c.equals);
        for (const std::string& name : c.equals) {
          if (const auto* value = c.field->enum_type()->FindValueByName(name)) c.enum_equals.push_back(value->number());
        }
      }
      compiled.when.push_back(std::move(c));
    }

    if (compiled.kind == ActionKind::kRequire || compiled.kind == ActionKind::kDenyIf) {
      out->checks.push_back(Check{std::move(path), std::move(compiled)});
      return;
    }
    Node* node = &out->root;
    for (const FieldDescriptor* field : path) node = node->FindOrAdd(field);
    for (const CompiledRule& earlier : node->transforms) {
      if (earlier.when.empty()) {
        Error(line, absl::StrCat("rule for '", rule.field(), "' can never apply: the rule at line ", earlier.line,
                                 " decides this field without conditions"));
        return;
      }
    }
    node->transforms.push_back(std::move(compiled));
  }

  void CheckEnumNames(int line, const FieldDescriptor* field, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (field->enum_type()->FindValueByName(name) == nullptr) {
        Error(line, absl::StrCat("'", name, "' is not a value of ", field->enum_type()->full_name()));
      }
    }
  }

  const std::string& source_;
  const PseudonymKeys& keys_;
  absl::flat_hash_map<std::string, std::shared_ptr<const HmacSha256>> hmacs_;
  std::vector<std::string>* errors_;
};

class CollectingErrors : public google::protobuf::io::ErrorCollector {
 public:
  CollectingErrors(const std::string& source, std::vector<std::string>* errors) : source_(source), errors_(errors) {}
  void AddError(int line, int column, const std::string& message) override {
    errors_->push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }

 private:
  const std::string& source_;
  std::vector<std::string>* errors_;
};

}  // namespace

CompiledPolicy::~CompiledPolicy() = default;

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::Load(const std::string& path,
                                                                           const PseudonymKeys& keys,
                                                                           v1::Jurisdiction jurisdiction) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return Parse(*text, path, keys, jurisdiction);
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::Parse(const std::string& text,
                                                                            const std::string& source,
                                                                            const PseudonymKeys& keys,
                                                                            v1::Jurisdiction jurisdiction) {
  std::vector<std::string> errors;
  std::shared_ptr<CompiledPolicy> compiled(new CompiledPolicy);
  google::protobuf::TextFormat::Parser parser;
  google::protobuf::TextFormat::ParseInfoTree tree;
  CollectingErrors collector(source, &errors);
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &compiled->policy_)) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  const v1::Policy& policy = compiled->policy_;
  if (policy.jurisdiction() != jurisdiction) {
    errors.push_back(absl::StrCat(
        source, ":", tree.GetLocation(v1::Policy::descriptor()->FindFieldByName("jurisdiction"), -1).line + 1,
        ": jurisdiction is ", v1::Jurisdiction_Name(policy.jurisdiction()), ", the gateway's is ",
        v1::Jurisdiction_Name(jurisdiction)));
  }

  RecordPolicyCompiler compiler(source, keys, &errors);
  for (const auto& [name, entries, out] : {std::tuple{"outbound", &policy.outbound(), &compiled->outbound_},
                                           std::tuple{"inbound", &policy.inbound(), &compiled->inbound_}}) {
    out->resize(v1::RecordType_ARRAYSIZE);
    const FieldDescriptor* field = v1::Policy::descriptor()->FindFieldByName(name);
    for (int i = 0; i < entries->size(); ++i) {
      const v1::RecordPolicy& entry = (*entries)[i];
      const int line = tree.GetLocation(field, i).line + 1;
      const std::string where = absl::StrCat(name, " ", v1::RecordType_Name(entry.record_type()));
      if (entry.record_type() == v1::RECORD_TYPE_UNSPECIFIED || !v1::RecordType_IsValid(entry.record_type())) {
        errors.push_back(absl::StrCat(source, ":", line, ": ", name, ": record_type is required"));
        continue;
      }
      if ((*out)[entry.record_type()] != nullptr) {
        errors.push_back(absl::StrCat(source, ":", line, ": ", where, " is listed twice"));
        continue;
      }
      (*out)[entry.record_type()] = compiler.Compile(entry, tree.GetTreeForNested(field, i), line, where);
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  compiled->version_ = HexEncode(Sha256(SerializeDeterministic(policy)));
  return std::shared_ptr<const CompiledPolicy>(std::move(compiled));
}

namespace {

// The message-typed fields of every message type a Record can hold, found
// once: discarding unknown fields then needs no reflection listing (which
// allocates) and no name look-up.
using MessageFields = absl::flat_hash_map<const google::protobuf::Descriptor*, std::vector<const FieldDescriptor*>>;

void CollectMessageFields(const google::protobuf::Descriptor* type, MessageFields* out) {
  if (out->contains(type)) return;
  std::vector<const FieldDescriptor*>& fields = (*out)[type];
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) fields.push_back(type->field(i));
  }
  const std::vector<const FieldDescriptor*> children = fields;  // `fields` may move as the map grows.
  for (const FieldDescriptor* field : children) CollectMessageFields(field->message_type(), out);
}

const MessageFields& RecordMessageFields() {
  static const MessageFields* const table = [] {
    auto* fields = new MessageFields;
    CollectMessageFields(v1::Record::descriptor(), fields);
    return fields;
  }();
  return *table;
}

// What Message::DiscardUnknownFields() does, over the precomputed table.
void DiscardUnknown(const MessageFields& table, Message* message) {
  const Reflection* reflection = message->GetReflection();
  if (!reflection->GetUnknownFields(*message).empty()) reflection->MutableUnknownFields(message)->Clear();
  const auto it = table.find(message->GetDescriptor());
  if (it == table.end()) {  // Not a record's type: the slow, general way.
    message->DiscardUnknownFields();
    return;
  }
  for (const FieldDescriptor* field : it->second) {
    if (field->is_repeated()) {
      const int size = reflection->FieldSize(*message, field);
      for (int i = 0; i < size; ++i) DiscardUnknown(table, reflection->MutableRepeatedMessage(message, field, i));
    } else if (reflection->HasField(*message, field)) {
      DiscardUnknown(table, reflection->MutableMessage(message, field));
    }
  }
}

}  // namespace

absl::Status CompiledPolicy::Apply(Direction direction, v1::Record* record, std::vector<TraceEntry>* trace) const {
  // Fields this build does not know (a newer peer's, or bytes added by hand)
  // were never classified by the policy: they never cross, in either
  // direction, whatever the default.
  DiscardUnknown(RecordMessageFields(), record);
  const v1::RecordType type = RecordTypeOf(*record);
  const auto& table = direction == Direction::kOutbound ? outbound_ : inbound_;
  const CompiledRecordPolicy* rules = type > 0 && type < static_cast<int>(table.size()) ? table[type].get() : nullptr;
  if (rules == nullptr) {
    if (direction == Direction::kInbound) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("refused by policy: ", RecordTypeName(type), " records may not leave this jurisdiction"));
  }
  return rules->Apply(record, trace);
}

absl::StatusOr<PseudonymKeys> LoadPseudonymKeys(const v1::GatewayConfig& config) {
  PseudonymKeys keys;
  for (int i = 0; i < config.pseudonym_keys_size(); ++i) {
    const v1::PseudonymKey& entry = config.pseudonym_keys(i);
    const std::string field = absl::StrCat("pseudonym_keys[", i, "]");
    absl::StatusOr<std::string> text = ReadFileToString(entry.key_file());
    if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ".key_file: ", text.status().message()));
    const std::string hex(absl::StripAsciiWhitespace(*text));
    bool is_hex = hex.size() % 2 == 0;
    for (char c : hex) is_hex = is_hex && std::isxdigit(static_cast<unsigned char>(c));
    const std::string key = is_hex ? absl::HexStringToBytes(hex) : std::string();
    if (key.size() < 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".key_file: '", entry.key_file(), "' must hold at least 32 bytes as hex on one line"));
    }
    if (entry.key_id().empty() || !keys.emplace(entry.key_id(), key).second) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".key_id: empty or listed twice"));
    }
  }
  return keys;
}

}  // namespace iicc::policy
