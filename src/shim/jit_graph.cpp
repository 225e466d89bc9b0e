// Measures a TorchScript model by running its forward once through libtorch's interpreter.
//
// tch exposes no TorchScript graph, so this file does the graph work and hands Rust plain text:
//  1. Inline every method and function call of `forward` (our own walk rather than
//     torch::jit::Inline, so that each inlined node learns the module path it came from, kept in the
//     node's Scope, and each module call leaves two placeholders: where it starts and the values it
//     returned). Attribute chains give the path, so `self.a.b(x)` is `a.b`; calls a module makes on
//     itself (`self._forward_impl`) add nothing to the path. A traced module that returned a value
//     it was given has lost that value from its call (see passes_through); its second placeholder
//     holds every value it may have returned instead. A traced module's call also lost the values it
//     returned and its caller did not use (`y, _ = self.lstm(x)`); unused tensors made beside the
//     ones it did return stand in for them (see add_unused_returns).
//  2. Replace the placeholders, and follow every operator Rust asked to count, with profiling nodes
//     whose callbacks write what they see as text lines. The callbacks keep no tensor, so no
//     activation lives longer than in a plain run.
//  3. Run the graph once on tensors built from the requested shapes. Large weights are not read
//     from the file: they hold zeros (see LargeTensorsAsZeros), as only shapes are measured.
//
// Request lines (tab-separated):   input <ScalarType> <d0,d1,...>   |   count <aten::op>
//                                  tally <op, or a prefix ending in *>   |   dynamic <aten::op>
//   tally: runs of matching operators that are not counted are tallied per module (work that would
//   otherwise cost nothing without a word); dynamic: operators whose output size can depend on
//   tensor values (nonzero, boolean indexing …), reported where they did.
// Result lines (tab-separated):
//   schema <forward's signature without self>
//   edge <from> <to> <1|0>                `to` consumes what `from` returned (1: its only consumer)
//   call <module path> <tensor>...        a module's forward returned these tensors (flattened); none
//                                         for a traced pass-through call whose value is not known
//   op <module path> <aten::op> <arg>...  a counted operator ran: its inputs, then its outputs
//   warning <message>                     libtorch warned (TORCH_WARN, `warnings.warn` in the model's
//                                         code) while loading or running; each distinct message once,
//                                         the first 10 distinct messages only
//   more_warnings <count>                 how many more distinct messages there were
//   ran <module path> <op> <count>        a tallied operator ran <count> times in that module's code
//   dynamic <module path> <op>            an operator whose output size depended on values ran there
//                                         (aten::index only with a boolean or byte mask)
//   filled <input number> <ids|ones|zeros> [<rows> <embedding path>]
//                                         how an integer or boolean input was filled: token ids in
//                                         range of the Embedding (its row count) that consumes it,
//                                         ones (masks, booleans), or zeros
//   error <load|input|make_input|run|internal> <message> [<where>]
//                                         input: the inputs do not fit forward's signature;
//                                         make_input: an input tensor could not be made, <where> is
//                                         its number (1-based); run: <where> is the module path that
//                                         was running
// A tensor is <ScalarType>:<d0,d1,...>. An arg is T<tensor>, I<int>, F<float>, B<0|1>, N (None),
// S<string>, L<d0,d1,...> (ints), Y<tensor>;<tensor>... (tensors; a packed quantized weight is the
// tensors its unpack() returns) or ?<kind>. The root module's path is empty. Strings escape
// backslash, tab and newline.

#include "jit_graph.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

// The counting CPU allocator (counting_allocator.cpp), which measures the training steps.
extern "C" int tchinfo_count_install();
extern "C" int64_t tchinfo_count_live();
extern "C" int64_t tchinfo_count_peak();
extern "C" void tchinfo_count_reset_peak();

namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::GraphFunction;
using torch::jit::Node;
using torch::jit::Value;

// Placeholders left while inlining; they never reach the interpreter.
c10::Symbol enter_mark() {
  static const c10::Symbol s = c10::Symbol::fromQualString("tchinfo::enter");
  return s;
}
c10::Symbol return_mark() {
  static const c10::Symbol s = c10::Symbol::fromQualString("tchinfo::returned");
  return s;
}
c10::Symbol passed_mark() {  // its inputs: the values a pass-through call may have returned
  static const c10::Symbol s = c10::Symbol::fromQualString("tchinfo::passed");
  return s;
}

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string join_path(const std::string& prefix, const std::string& rest) {
  if (prefix.empty()) return rest;
  if (rest.empty()) return prefix;
  return prefix + "." + rest;
}

// ---- module paths, kept in each node's Scope (copied along when a graph is cloned) ----

std::string scope_of(Node* n) {
  auto s = n->scope();
  return (s && !s->isBlank()) ? std::string(s->name().toUnqualString()) : std::string();
}

void set_scope(Node* n, const std::string& path) {
  auto root = c10::make_intrusive<torch::jit::Scope>();
  n->setScope(path.empty() ? root : root->push(c10::Symbol::scope(path)));
}

void prefix_scope(Node* n, const std::string& prefix) {
  set_scope(n, join_path(prefix, scope_of(n)));
  for (Block* b : n->blocks()) {
    for (Node* inner : b->nodes()) prefix_scope(inner, prefix);
  }
}

// "layer1.0" when `module` is reached from the graph's own module by attribute lookups (as
// `self.layer1[0]` is once scripting unrolls it); nothing when it comes from anywhere else.
std::optional<std::string> attribute_path(Value* module) {
  std::vector<std::string> names;
  Value* v = module;
  while (v->node()->kind() == c10::prim::GetAttr) {
    names.push_back(v->node()->s(c10::attr::name));
    v = v->node()->input();
  }
  const auto inputs = module->owningGraph()->inputs();
  if (inputs.empty() || v != inputs[0]) return std::nullopt;
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path = join_path(path, *it);
  return path;
}

// `forward`, one of its overloads (`forward__0` …), which scripting names that way, or a later call
// of a module a trace saw called more than once (`forward1` …: the tracer gives every call its own
// method, so a shared ReLU's second call is `relu.forward1`).
bool is_forward(const std::string& method) {
  if (method == "forward") return true;
  for (const std::string prefix : {"forward__", "forward"}) {
    if (starts_with(method, prefix) && method.size() > prefix.size() &&
        method.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
      return true;
    }
  }
  return false;
}

void collect(Block* block, std::vector<Node*>& out) {
  for (Node* n : block->nodes()) {
    out.push_back(n);
    for (Block* sub : n->blocks()) collect(sub, out);
  }
}

// ---- modules whose traced forward lost what it returned ----

// torch.jit.trace keeps only the operators a forward ran, and gives each module's traced forward
// the values those operators read as inputs and the values they made and the caller used as
// outputs. A forward that returned a value it was given without running an operator on it
// (`nn.Identity`, torchvision's `StochasticDepth` in eval, any `return x`) thus takes nothing and
// returns None, and its caller uses the given value directly: which value the module returned is
// not in the file. (Scripted forwards keep their signature and return the value itself.)
bool passes_through(GraphFunction& fn) {
  const auto& graph = *fn.graph();
  if (graph.inputs().size() != 1) return false;  // only self
  for (const Value* out : graph.outputs()) {
    if (out->type()->kind() != c10::TypeKind::NoneType) return false;
  }
  return true;
}

// The tensors of `call`'s graph that exist before it and are used after it. If the caller used what a
// pass-through call returned, it is one of them, as the trace made the caller use that value
// directly (a return, too, is a use); the run tells its shape when they all have the same one.
std::vector<Value*> live_across(Node* call) {
  std::vector<Value*> live;
  auto consider = [&](Value* v) {
    if (!v->type()->cast<c10::TensorType>()) return;
    for (const auto& use : v->uses()) {
      if (use.user->isAfter(call)) {
        live.push_back(v);
        return;
      }
    }
  };
  Graph& graph = *call->owningGraph();
  for (Value* v : graph.inputs()) consider(v);
  std::vector<Node*> nodes;
  collect(graph.block(), nodes);
  for (Node* n : nodes) {
    if (!n->isBefore(call)) continue;
    for (Value* v : n->outputs()) consider(v);
  }
  return live;
}

// ---- values a traced forward returned and its caller did not use ----

// torch.jit.trace does not see what a module's forward returns, only which of the values it made its
// caller went on to use: those become the traced forward's outputs, and the rest are dropped from its
// return (an LSTM called as `y, _ = self.lstm(x)` returns `out` alone, while eager PyTorch returned
// `out, (h, c)`, all three made by one aten::lstm). What is left to go by: an operator of the module's
// own code that made a returned tensor may have made others that nothing uses; those are taken as
// returned too, in the operator's order, unless they turn out not to be floating point when the model
// runs: integer results beside a value are indices (adaptive max pooling, max or sort along a dim),
// which modules drop far more often than they return. Such a guess is not in the file either way.
// Scripted forwards keep their whole return, so this applies to traced files only.
c10::Symbol guessed_attr() {  // on a return mark: the positions of its guessed inputs
  static const c10::Symbol s = c10::Symbol::attr("tchinfo_guessed");
  return s;
}

void open_tuples(Value* v, std::vector<Value*>& out) {
  if (v->node()->kind() != c10::prim::TupleConstruct) {
    out.push_back(v);
    return;
  }
  for (Value* element : v->node()->inputs()) open_tuples(element, out);
}

// `returned` marks what the call inlined between `first` and it returned; the module's own code there
// is the nodes without a path of their own (a child's leftovers are the child's). Adds the unused
// tensors made beside a returned one, and puts every value in the order it was made.
void add_unused_returns(Node* first, Node* returned) {
  std::unordered_map<const Value*, size_t> made_at;
  for (Node* n = first->next(); n != returned; n = n->next()) {
    for (Value* v : n->outputs()) made_at.emplace(v, made_at.size() + 1);
  }
  std::vector<Value*> values;
  for (Value* v : returned->inputs()) open_tuples(v, values);
  std::unordered_set<const Node*> makers;
  std::vector<Value*> unused;
  for (Value* v : values) {
    Node* maker = v->node();
    if (!made_at.count(v) || !scope_of(maker).empty() || !makers.insert(maker).second) continue;
    for (Value* sibling : maker->outputs()) {
      if (sibling->uses().empty() && sibling->type()->cast<c10::TensorType>()) unused.push_back(sibling);
    }
  }
  if (unused.empty()) return;
  const std::unordered_set<const Value*> guessed(unused.begin(), unused.end());
  values.insert(values.end(), unused.begin(), unused.end());
  auto position = [&made_at](const Value* v) {
    auto found = made_at.find(v);
    return found == made_at.end() ? 0 : found->second;  // made before the call: first, as given
  };
  std::stable_sort(values.begin(), values.end(),
                   [&](const Value* a, const Value* b) { return position(a) < position(b); });
  returned->removeAllInputs();
  std::vector<int64_t> guesses;
  for (Value* v : values) {
    if (guessed.count(v)) guesses.push_back(static_cast<int64_t>(returned->inputs().size()));
    returned->addInput(v);
  }
  returned->is_(guessed_attr(), guesses);
}

// A pass-through module whose own pass-through children had nothing to choose from (it has no
// tensor of its own) handed on a value from outside it: its children get its candidates.
void hand_down(Node* n, at::ArrayRef<Value*> candidates) {
  if (n->kind() == passed_mark() && n->inputs().empty()) {
    for (Value* v : candidates) n->addInput(v);
  }
  for (Block* sub : n->blocks()) {
    for (Node* inner : sub->nodes()) hand_down(inner, candidates);
  }
}

// Inlines calls bottom-up: a function's own calls are inlined (once, memoised) before it is
// inlined into its callers, and every node it brings along gets the call's path as a prefix.
class Inliner {
 public:
  explicit Inliner(bool traced) : traced_(traced) {}

  std::shared_ptr<Graph> inlined(GraphFunction& fn) {
    auto found = done_.find(&fn);
    if (found != done_.end()) return found->second;
    fn.ensure_defined();
    auto graph = fn.graph()->copy();
    inline_block(graph->block());
    done_.emplace(&fn, graph);
    return graph;
  }

 private:
  bool traced_;  // the file was written by torch.jit.trace
  std::unordered_map<GraphFunction*, std::shared_ptr<Graph>> done_;

  void inline_block(Block* block) {
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* n = *it++;  // inlining replaces n, so step past it first
      if (n->kind() == c10::prim::CallMethod) {
        inline_method(n);
      } else if (n->kind() == c10::prim::CallFunction) {
        inline_function(n);
      } else {
        for (Block* sub : n->blocks()) inline_block(sub);
      }
    }
  }

  void inline_method(Node* call) {
    auto cls = call->input(0)->type()->cast<c10::ClassType>();
    if (!cls) return;  // an interface call: it runs, unprobed
    const std::string& method = call->s(c10::attr::name);
    GraphFunction* fn = torch::jit::tryToGraphFunction(cls->getMethod(method));
    if (!fn) return;
    std::string path;
    if (cls->is_module()) {
      path = attribute_path(call->input(0)).value_or("");
    }
    splice(call, *fn, path, !path.empty() && is_forward(method));
  }

  void inline_function(Node* call) {
    auto fn_type = call->input(0)->type()->cast<c10::FunctionType>();
    if (!fn_type) return;
    GraphFunction* fn = torch::jit::tryToGraphFunction(*fn_type->function());
    if (!fn) return;
    call->removeInput(0);  // the function constant; the callee's inputs are the rest
    splice(call, *fn, "", false);
  }

  void splice(Node* call, GraphFunction& fn, const std::string& path, bool module_call) {
    auto body = inlined(fn);
    Graph& graph = *call->owningGraph();
    Node* first = call->prev();  // the inlined nodes land strictly between first and last
    Node* last = call->next();
    const bool passed = module_call && passes_through(fn);
    if (module_call) {
      first = graph.create(enter_mark(), 0)->insertBefore(call);
      last = passed ? graph.create(passed_mark(), live_across(call), 0)->insertAfter(call)
                    : graph.create(return_mark(), call->outputs(), 0)->insertAfter(call);
      set_scope(first, path);
      set_scope(last, path);
    }
    torch::jit::inlineCallTo(call, &fn, body.get());
    if (module_call && !passed && traced_) add_unused_returns(first, last);
    for (Node* n = first->next(); n != last; n = n->next()) {
      if (passed) hand_down(n, last->inputs());
      if (!path.empty()) prefix_scope(n, path);
    }
  }
};

// ---- data flow between modules, read from the graph before it runs ----

const std::string model_output = "\n";  // a consumer that cannot be a module path

// Where `v`, returned by module `from`, is used. Tuples and lists are not consumers: whoever takes
// the value out of one is (`x, _ = self.lstm(x)` feeds the next module).
void add_consumers(Value* v, const std::string& from, std::set<std::string>& consumers) {
  static const std::unordered_set<c10::Symbol> containers = {
      c10::prim::TupleConstruct, c10::prim::TupleUnpack, c10::prim::TupleIndex,
      c10::prim::ListConstruct, c10::prim::ListUnpack};
  for (const auto& use : v->uses()) {
    Node* user = use.user;
    // A pass-through call's candidates are not known to be its input.
    if (user->kind() == return_mark() || user->kind() == enter_mark() || user->kind() == passed_mark()) {
      continue;
    }
    if (containers.count(user->kind())) {
      for (Value* out : user->outputs()) add_consumers(out, from, consumers);
      continue;
    }
    std::string where;
    if (user->kind() == c10::prim::Return) {
      Block* block = user->owningBlock();
      where = block->owningNode() ? scope_of(block->owningNode()) : model_output;
    } else {
      where = scope_of(user);
    }
    if (where == from || starts_with(where, from + ".")) continue;  // its own code
    consumers.insert(where);
  }
}

std::string describe_edges(Graph& graph) {
  std::vector<Node*> nodes;
  collect(graph.block(), nodes);
  std::string out;
  for (Node* returned : nodes) {
    if (returned->kind() != return_mark()) continue;
    const std::string from = scope_of(returned);
    std::set<std::string> consumers;
    for (Value* v : returned->inputs()) add_consumers(v, from, consumers);
    for (const auto& to : consumers) {
      // The model's output and a caller's own code (`out += identity`) are not module edges.
      if (to == model_output || to.empty() || starts_with(from, to + ".")) continue;
      out += "edge\t" + escape(from) + "\t" + escape(to) + "\t" + (consumers.size() == 1 ? "1" : "0") + "\n";
    }
  }
  return out;
}

// PyTorch's fused inference paths (nn.MultiheadAttention, nn.TransformerEncoderLayer …) are taken only
// when `torch.is_grad_enabled()` is false, and replace every submodule call with one operator. Eager
// torchinfo never takes them (its hooks disable them), so the graph is told gradients are on while it
// actually runs without autograd: every submodule is called, and measured, as torchinfo shows it.
void pretend_grad_enabled(Graph& graph) {
  static const c10::Symbol is_grad_enabled = c10::Symbol::fromQualString("aten::is_grad_enabled");
  std::vector<Node*> nodes;
  collect(graph.block(), nodes);
  for (Node* n : nodes) {
    if (n->kind() != is_grad_enabled) continue;
    torch::jit::WithInsertPoint here(n);
    n->output()->replaceAllUsesWith(graph.insertConstant(true));
    n->destroy();
  }
}

// ---- probes: what the interpreter hands the profiling nodes becomes text ----

struct Recorder {
  std::string lines;
  std::vector<std::string> running;  // module calls entered and not yet returned, outermost first
  std::map<std::pair<std::string, std::string>, int64_t> ran;  // (path, op) → runs, tallied ops
  std::set<std::pair<std::string, std::string>> dynamic;       // (path, op) that depended on values

  // The tallies and the value-dependent operators, as result lines.
  std::string summary() const {
    std::string out;
    for (const auto& [where, count] : ran) {
      out += "ran\t" + escape(where.first) + "\t" + where.second + "\t" + std::to_string(count) + "\n";
    }
    for (const auto& [path, op] : dynamic) out += "dynamic\t" + escape(path) + "\t" + op + "\n";
    return out;
  }
};

std::string tensor_text(const at::Tensor& t) {
  std::string s = c10::toString(t.scalar_type());
  s += ':';
  bool first = true;
  for (int64_t d : t.sizes()) {
    if (!first) s += ',';
    s += std::to_string(d);
    first = false;
  }
  return s;
}

// Every tensor in `v`: tuples, lists and dict values flattened in order, as torchinfo does.
void append_tensors(std::string& line, const c10::IValue& v) {
  if (v.isTensor()) {
    if (v.toTensor().defined()) line += "\t" + tensor_text(v.toTensor());
  } else if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) append_tensors(line, e);
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) append_tensors(line, e);
  } else if (v.isGenericDict()) {
    for (const auto& entry : v.toGenericDict()) append_tensors(line, entry.value());
  }
}

std::string describe(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor().defined() ? "T" + tensor_text(v.toTensor()) : "N";
  if (v.isNone()) return "N";
  if (v.isBool()) return v.toBool() ? "B1" : "B0";
  if (v.isInt()) return "I" + std::to_string(v.toInt());
  if (v.isDouble()) {
    std::ostringstream s;
    s.precision(17);
    s << v.toDouble();
    return "F" + s.str();
  }
  if (v.isString()) return "S" + escape(v.toStringRef());
  if (v.isIntList()) {
    std::string s = "L";
    bool first = true;
    for (int64_t i : v.toIntVector()) {
      if (!first) s += ',';
      s += std::to_string(i);
      first = false;
    }
    return s;
  }
  if (v.isTensorList()) {
    std::string s = "Y";
    bool first = true;
    for (const at::Tensor& t : v.toTensorVector()) {
      if (!first) s += ';';
      s += tensor_text(t);
      first = false;
    }
    return s;
  }
  if (v.isObject()) {
    // A quantized layer's packed weight (LinearPackedParamsBase, Conv2dPackedParamsBase) tells its
    // shapes only through unpack(): (weight, bias).
    try {
      torch::jit::Function* unpack = v.toObject()->type()->findMethod("unpack");
      if (unpack) {
        torch::jit::Stack stack{v};
        unpack->run(stack);
        std::string s = "Y";
        bool first = true;
        auto add = [&](const c10::IValue& e) {
          if (!e.isTensor() || !e.toTensor().defined()) return;
          if (!first) s += ';';
          s += tensor_text(e.toTensor());
          first = false;
        };
        if (!stack.empty() && stack.back().isTuple()) {
          for (const auto& e : stack.back().toTupleRef().elements()) add(e);
        } else if (!stack.empty()) {
          add(stack.back());
        }
        if (!first) return s;
      }
    } catch (...) {
    }
  }
  return "?" + v.tagKind();
}

// A node that hands the runtime values of `inputs` to `seen` when the interpreter reaches it.
Node* make_probe(Graph& graph, at::ArrayRef<Value*> inputs,
                 std::function<void(at::ArrayRef<c10::IValue>)> seen) {
  const size_t count = inputs.size();
  auto* probe = new torch::jit::ProfileIValueOp(  // owned by the graph from here on
      &graph, [count, seen = std::move(seen)](std::vector<c10::IValue>& stack) {
        stack.pop_back();  // the frame id the interpreter pushes for profiling nodes
        seen(at::ArrayRef<c10::IValue>(stack).slice(stack.size() - count));
        stack.erase(stack.end() - static_cast<std::ptrdiff_t>(count), stack.end());
      });
  for (Value* v : inputs) probe->addInput(v);
  return probe;
}

// True when `kind` is one of `patterns`: an exact name, or a prefix ending in `*`.
bool matches_any(const std::string& kind, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (!p.empty() && p.back() == '*' ? starts_with(kind, p.substr(0, p.size() - 1)) : kind == p) return true;
  }
  return false;
}

// Whether an operator's run made an output whose size depends on values: indexing with a mask, a
// one-argument where (nonzero); the others always can.
bool value_dependent(const std::string& op, at::ArrayRef<c10::IValue> inputs) {
  if (op == "aten::index") {
    if (inputs.size() < 2 || !inputs[1].isList()) return false;
    for (const auto& index : inputs[1].toListRef()) {
      if (index.isTensor() && index.toTensor().defined()) {
        const auto type = index.toTensor().scalar_type();
        if (type == at::kBool || type == at::kByte) return true;
      }
    }
    return false;
  }
  if (op == "aten::repeat_interleave") {  // only repeats given as a tensor
    return inputs.size() >= 2 && inputs[1].isTensor();
  }
  return true;
}

struct Probing {
  std::unordered_set<c10::Symbol> counted;
  std::vector<std::string> tallied;
  std::unordered_set<c10::Symbol> dynamic;
};

void add_probes(Graph& graph, Recorder& rec, const Probing& probing) {
  const auto& counted = probing.counted;
  std::vector<Node*> nodes;
  collect(graph.block(), nodes);
  // `guessed`: positions of values taken as returned only if they are floating point (see
  // add_unused_returns).
  auto record_call = [&rec](const std::string& path, std::vector<int64_t> guessed = {}) {
    return [&rec, path, guessed](at::ArrayRef<c10::IValue> values) {
      std::string line = "call\t" + escape(path);
      for (size_t i = 0; i < values.size(); ++i) {
        const bool guess = std::count(guessed.begin(), guessed.end(), static_cast<int64_t>(i)) > 0;
        if (guess && !(values[i].isTensor() && values[i].toTensor().is_floating_point())) continue;
        append_tensors(line, values[i]);
      }
      rec.lines += line + "\n";
      if (!rec.running.empty()) rec.running.pop_back();
    };
  };
  // A pass-through call returned one of these values (see live_across): known when all look alike.
  auto record_passed = [&rec](const std::string& path) {
    return [&rec, path](at::ArrayRef<c10::IValue> values) {
      std::string line = "call\t" + escape(path), seen;
      for (const auto& v : values) {
        const std::string text = v.isTensor() && v.toTensor().defined() ? tensor_text(v.toTensor()) : "";
        if (text.empty() || (!seen.empty() && text != seen)) {
          seen.clear();
          break;
        }
        seen = text;
      }
      if (!seen.empty()) line += "\t" + seen;
      rec.lines += line + "\n";
      if (!rec.running.empty()) rec.running.pop_back();
    };
  };
  for (Node* n : nodes) {
    const std::string path = scope_of(n);
    if (n->kind() == enter_mark()) {
      make_probe(graph, {}, [&rec, path](at::ArrayRef<c10::IValue>) { rec.running.push_back(path); })
          ->insertBefore(n);
      n->destroy();
    } else if (n->kind() == return_mark()) {
      auto guessed = n->hasAttribute(guessed_attr()) ? n->is(guessed_attr()) : std::vector<int64_t>{};
      make_probe(graph, n->inputs(), record_call(path, guessed))->insertBefore(n);
      n->destroy();
    } else if (n->kind() == passed_mark()) {
      make_probe(graph, n->inputs(), record_passed(path))->insertBefore(n);
      n->destroy();
    } else if (probing.dynamic.count(n->kind())) {
      const std::string op = n->kind().toQualString();
      if (op == "aten::where" && n->inputs().size() != 1) continue;  // the three-argument select
      make_probe(graph, n->inputs(), [&rec, path, op](at::ArrayRef<c10::IValue> inputs) {
        if (value_dependent(op, inputs)) rec.dynamic.emplace(path, op);
      })->insertAfter(n);
    } else if (!counted.count(n->kind()) && matches_any(n->kind().toQualString(), probing.tallied)) {
      const std::string op = n->kind().toQualString();
      make_probe(graph, {}, [&rec, path, op](at::ArrayRef<c10::IValue>) { ++rec.ran[{path, op}]; })
          ->insertAfter(n);
    } else if (counted.count(n->kind())) {
      std::vector<Value*> values(n->inputs().begin(), n->inputs().end());
      values.insert(values.end(), n->outputs().begin(), n->outputs().end());
      const std::string op = n->kind().toQualString();
      make_probe(graph, values, [&rec, path, op](at::ArrayRef<c10::IValue> args) {
        std::string line = "op\t" + escape(path) + "\t" + op;
        for (const auto& a : args) line += "\t" + describe(a);
        rec.lines += line + "\n";
      })->insertAfter(n);
    }
  }
  make_probe(graph, graph.outputs(), record_call(""))->insertBefore(graph.return_node());
}

// ---- the request, the inputs and the schema ----

struct Request {
  std::vector<std::pair<c10::ScalarType, std::vector<int64_t>>> inputs;
  Probing probing;
  std::vector<int64_t> train_batches;  // non-empty: measure training steps at these batches instead
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

Request parse_request(const std::string& text) {
  Request req;
  for (const auto& line : split(text, '\n')) {
    auto f = split(line, '\t');
    if (f.size() == 3 && f[0] == "input") {
      std::optional<c10::ScalarType> type;
      for (int i = 0; i < static_cast<int>(c10::ScalarType::NumOptions); ++i) {
        if (f[1] == c10::toString(static_cast<c10::ScalarType>(i))) type = static_cast<c10::ScalarType>(i);
      }
      if (!type) throw std::invalid_argument("unknown scalar type " + f[1]);
      std::vector<int64_t> dims;
      for (const auto& d : split(f[2], ',')) {
        if (!d.empty()) dims.push_back(std::stoll(d));
      }
      req.inputs.emplace_back(*type, dims);
    } else if (f.size() == 2 && f[0] == "count") {
      req.probing.counted.insert(c10::Symbol::fromQualString(f[1]));
    } else if (f.size() == 2 && f[0] == "tally") {
      req.probing.tallied.push_back(f[1]);
    } else if (f.size() == 2 && f[0] == "dynamic") {
      req.probing.dynamic.insert(c10::Symbol::fromQualString(f[1]));
    } else if (f.size() == 2 && f[0] == "train") {
      for (const auto& b : split(f[1], ',')) {
        const int64_t batch = std::stoll(b);
        if (batch < 1) throw std::invalid_argument("a training batch must be at least 1");
        req.train_batches.push_back(batch);
      }
    } else if (!line.empty()) {
      throw std::invalid_argument("malformed request line: " + line);
    }
  }
  return req;
}

// `forward(Tensor x, Tensor y) -> Tensor`: what a user must supply, so without `self`.
std::string signature(const c10::FunctionSchema& schema) {
  const auto& args = schema.arguments();
  std::string s = schema.name() + "(";
  for (size_t i = 1; i < args.size(); ++i) {
    if (i > 1) s += ", ";
    s += args[i].type()->annotation_str() + " " + args[i].name();
    if (args[i].default_value()) {
      std::ostringstream d;
      d << *args[i].default_value();
      s += "=" + d.str();
    }
  }
  s += ") -> ";
  const auto& returns = schema.returns();
  if (returns.size() == 1) return s + returns[0].type()->annotation_str();
  s += "(";
  for (size_t i = 0; i < returns.size(); ++i) s += (i ? ", " : "") + returns[i].type()->annotation_str();
  return s + ")";
}

// Empty when `given` tensors can be passed to forward; otherwise what is wrong.
std::string check_inputs(const c10::FunctionSchema& schema, size_t given) {
  const auto& args = schema.arguments();  // args[0] is self
  const size_t total = args.size() - 1;
  size_t required = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (!args[i].default_value()) required = i;
  }
  if (given < required || given > total) {
    std::string takes = required == total ? std::to_string(total)
                                          : std::to_string(required) + " to " + std::to_string(total);
    return "forward takes " + takes + (total == 1 ? " input" : " inputs") + " but " + std::to_string(given) +
           (given == 1 ? " was" : " were") + " given";
  }
  for (size_t i = 1; i <= given; ++i) {
    if (!c10::TensorType::get()->isSubtypeOf(*args[i].type())) {
      const auto kind = args[i].type()->kind();
      const bool container = kind == c10::TypeKind::ListType || kind == c10::TypeKind::DictType ||
                             kind == c10::TypeKind::TupleType;
      return "forward's input '" + args[i].name() + "' is " + args[i].type()->annotation_str() +
             (container ? ", a container of values: tchinfo passes one tensor per --input-size, so a forward "
                          "taking a list, dict or tuple cannot be run"
                        : ", not a tensor");
    }
  }
  return "";
}

// ---- values of the inputs ----

// How an input is filled. Floating-point inputs are ones (normalisations and divisions stay finite);
// an integer input read by an Embedding gets token ids in its range, a mask or a boolean ones, any
// other integer zeros (a valid index anywhere).
struct Fill {
  std::string kind = "ones";  // ids | ones | zeros
  int64_t rows = 0;           // ids: the Embedding's row count
  std::string embedding;      // ids: its module path
};

// Operators a token id passes through unchanged in value on its way to an Embedding.
bool keeps_values(const Node* n) {
  static const std::unordered_set<std::string> kinds = {
      "aten::view",    "aten::reshape", "aten::to",         "aten::contiguous", "aten::unsqueeze",
      "aten::squeeze", "aten::flatten", "aten::slice",      "aten::select",     "aten::clone",
      "aten::expand",  "aten::repeat",  "aten::permute",    "aten::transpose",  "aten::t",
      "aten::type_as", "aten::long",    "aten::int",        "aten::view_as",    "aten::reshape_as",
      "aten::narrow",  "aten::detach",  "aten::movedim",    "aten::unflatten",  "aten::expand_as",
      "aten::reshape", "aten::index_select"};
  return kinds.count(n->kind().toQualString()) > 0;
}

// The tensor `v` holds when it is a constant or an attribute reached from the module (an
// Embedding's `self.embed.weight`, inlined as a chain of attribute lookups).
std::optional<at::Tensor> tensor_value(Value* v, const torch::jit::Module& module) {
  if (auto constant = torch::jit::toIValue(v)) {
    if (constant->isTensor()) return constant->toTensor();
    return std::nullopt;
  }
  std::vector<std::string> names;
  while (v->node()->kind() == c10::prim::GetAttr) {
    names.push_back(v->node()->s(c10::attr::name));
    v = v->node()->input();
  }
  const auto inputs = v->owningGraph()->inputs();
  if (inputs.empty() || v != inputs[0]) return std::nullopt;
  c10::IValue current = module._ivalue();
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!current.isObject()) return std::nullopt;
    auto object = current.toObject();
    auto slot = object->type()->findAttributeSlot(*it);
    if (!slot) return std::nullopt;
    current = object->getSlot(*slot);
  }
  if (current.isTensor()) return current.toTensor();
  return std::nullopt;
}

// The Embedding with the fewest rows that reads `input` as indices, through operators that keep the
// values: (rows, its module path).
std::optional<std::pair<int64_t, std::string>> embedding_of(Value* input, const torch::jit::Module& module) {
  std::vector<Value*> todo{input};
  std::unordered_set<Value*> seen;
  std::optional<std::pair<int64_t, std::string>> best;
  while (!todo.empty() && seen.size() < 256) {
    Value* v = todo.back();
    todo.pop_back();
    if (!seen.insert(v).second) continue;
    for (const auto& use : v->uses()) {
      Node* user = use.user;
      const std::string kind = user->kind().toQualString();
      if ((kind == "aten::embedding" || kind == "aten::embedding_bag") && use.offset == 1) {
        auto weight = tensor_value(user->input(0), module);
        if (weight && weight->dim() == 2 && (!best || weight->size(0) < best->first)) {
          best = std::make_pair(weight->size(0), scope_of(user));
        }
      } else if (use.offset == 0 && keeps_values(user)) {
        for (Value* out : user->outputs()) todo.push_back(out);
      } else if (user->kind() == c10::prim::Return && user->owningBlock()->owningNode() &&
                 user->owningBlock()->owningNode()->kind() == c10::prim::If) {
        // A branch handing the value on (F.embedding's `if max_norm is not None:`): the If's output.
        Node* branch = user->owningBlock()->owningNode();
        if (use.offset < branch->outputs().size()) todo.push_back(branch->outputs()[use.offset]);
      }
    }
  }
  return best;
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// How each input is filled, from its dtype, forward's name for it and the graph's use of it.
std::vector<Fill> fills_for(Graph& graph, const c10::FunctionSchema& schema,
                            const std::vector<std::pair<c10::ScalarType, std::vector<int64_t>>>& inputs,
                            const torch::jit::Module& module) {
  std::vector<Fill> fills;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const c10::ScalarType type = inputs[i].first;
    Fill fill;
    if (c10::isFloatingType(type) || c10::isComplexType(type) || type == at::kBool) {
      fill.kind = "ones";
    } else if (lowercase(schema.arguments()[i + 1].name()).find("mask") != std::string::npos) {
      fill.kind = "ones";
    } else if (auto embedding = i + 1 < graph.inputs().size() ? embedding_of(graph.inputs()[i + 1], module)
                                                              : std::nullopt) {
      fill.kind = "ids";
      fill.rows = embedding->first;
      fill.embedding = embedding->second;
    } else {
      fill.kind = "zeros";
    }
    fills.push_back(fill);
  }
  return fills;
}

// `filled` lines for the inputs that are not floating point.
std::string describe_fills(const std::vector<Fill>& fills,
                           const std::vector<std::pair<c10::ScalarType, std::vector<int64_t>>>& inputs) {
  std::string out;
  for (size_t i = 0; i < fills.size(); ++i) {
    const auto type = inputs[i].first;
    if (c10::isFloatingType(type) || c10::isComplexType(type)) continue;
    out += "filled\t" + std::to_string(i + 1) + "\t" + fills[i].kind;
    if (fills[i].kind == "ids") out += "\t" + std::to_string(fills[i].rows) + "\t" + escape(fills[i].embedding);
    out += "\n";
  }
  return out;
}

at::Tensor make_input(c10::ScalarType type, const std::vector<int64_t>& dims, const Fill& fill) {
  auto options = at::TensorOptions().dtype(type);
  if (fill.kind == "ids" && fill.rows > 1) {
    // 1, 2, … rows-1, 1, 2 …: every id in range, none the 0 that often pads; kept within the dtype.
    int64_t rows = fill.rows;
    if (type == at::kByte) rows = std::min<int64_t>(rows, 256);
    if (type == at::kChar) rows = std::min<int64_t>(rows, 128);
    if (type == at::kShort) rows = std::min<int64_t>(rows, 32768);
    if (type == at::kUInt16) rows = std::min<int64_t>(rows, 65536);
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    return at::arange(count, at::TensorOptions().dtype(at::kLong))
        .remainder(rows - 1)
        .add(1)
        .reshape(dims)
        .to(type);
  }
  if (fill.kind == "ones") return at::ones(dims, options);
  return at::zeros(dims, options);
}

std::string message_of(const std::exception& e) {
  if (auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

std::string fail(const std::string& kind, const std::string& message, const std::string* where = nullptr) {
  std::string line = "error\t" + kind + "\t" + escape(message);
  if (where) line += "\t" + escape(*where);
  return line + "\n";
}

// libtorch's default handler prints each warning to stderr, several lines with its C++ source, even
// when the run succeeds; collected here instead, they reach the user as one note each, at most
// kMaxWarnings distinct ones and then one line saying how many more there were.
// The handler is per thread (c10 keeps it thread-local): warnings raised on libtorch's intra-op or
// inter-op pool threads still go to its default handler, stderr.
class CollectWarnings : public c10::WarningHandler {
 public:
  // c10::warn is called from noexcept code too, where an exception escaping would std::terminate
  // the process; a warning that cannot be recorded (out of memory) is dropped instead.
  void process(const c10::Warning& warning) override {
    try {
      const std::string& message = warning.msg();
      if (kept_.count(message)) return;
      if (kept_.size() < kMaxWarnings) {
        kept_.insert(message);
        lines_ += "warning\t" + escape(message) + "\n";
      } else {
        left_out_.insert(std::hash<std::string>{}(message));  // hashes: a flood costs no text
      }
    } catch (...) {
    }
  }

  // The warning lines, then how many distinct warnings were left out.
  std::string lines() const {
    if (left_out_.empty()) return lines_;
    return lines_ + "more_warnings\t" + std::to_string(left_out_.size()) + "\n";
  }

 private:
  static constexpr size_t kMaxWarnings = 10;
  std::string lines_;
  std::set<std::string> kept_;
  std::set<size_t> left_out_;
};

// ---- loading without the weights' bytes ----

// Shapes, dtypes and operator counts do not depend on weight values, and copying them is most of the
// cost of loading a large model (553 MB for VGG-16: page faults, the copy, then freeing it all). So the
// payload of every tensor record of 64 KiB or more reads as zeros instead, without touching the file
// or the destination's pages. Smaller records (index tables, masks, scalars kept as buffers) are read,
// since code may compute shapes from them. A record read differently than in one piece goes through.
class LargeTensorsAsZeros : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit LargeTensorsAsZeros(const std::string& path) : file_(path) {}

  // The read of `n` bytes at `pos` will produce zeros.
  void zero(uint64_t pos, size_t n) { zeroed_.emplace(pos, n); }

  size_t size() const override { return file_.size(); }

  size_t read(uint64_t pos, void* buf, size_t n, const char* what) const override {
    auto found = zeroed_.find(pos);
    if (found == zeroed_.end() || found->second != n) return file_.read(pos, buf, n, what);
    // The buffer is a fresh allocation: dropping its whole pages makes them read as zeros without
    // faulting them in; the partial pages at either end are cleared by hand.
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t begin = reinterpret_cast<uintptr_t>(buf), end = begin + n;
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (first >= last || madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) {
      std::memset(buf, 0, n);
      return n;
    }
    std::memset(buf, 0, first - begin);
    std::memset(reinterpret_cast<void*>(last), 0, end - last);
    return n;
  }

 private:
  caffe2::serialize::FileAdapter file_;
  std::unordered_map<uint64_t, size_t> zeroed_;  // payload offset → size
};

struct Loaded {
  torch::jit::Module module;
  bool traced;  // torch.jit.trace keeps the inputs it traced with beside the code
};

Loaded load_without_weights(const std::string& path) {
  auto adapter = std::make_shared<LargeTensorsAsZeros>(path);
  bool traced = false;
  {
    caffe2::serialize::PyTorchStreamReader directory(adapter);
    traced = directory.hasRecord("traced_inputs.pkl");
    for (const auto& name : directory.getAllRecords()) {
      if (!starts_with(name, "data/")) continue;
      const size_t n = directory.getRecordSize(name);
      if (n >= 64 * 1024) adapter->zero(directory.getRecordOffset(name), n);
    }
  }
  return {torch::jit::load(adapter, std::nullopt, /*load_debug_files=*/false), traced};
}


// A file's forward, ready to run, for a plain measurement and for training steps alike: the module,
// whether it was traced, its graph and the schema line every answer starts with; or, in `failure`,
// the whole answer to give instead (the file cannot be loaded, has no TorchScript forward, or takes
// other inputs than the request gives). The caller's warning handler is in place before this runs.
struct Forward {
  torch::jit::Module module;
  bool traced = false;
  GraphFunction* fn = nullptr;
  std::string schema_line;
  std::string failure;
};

Forward open_forward(const std::string& path, const Request& req) {
  Forward f;
  try {
    auto loaded = load_without_weights(path);
    f.module = loaded.module;
    f.traced = loaded.traced;
  } catch (const std::exception& e) {
    f.failure = fail("load", message_of(e));
    return f;
  }
  auto forward = f.module.find_method("forward");
  if (!forward) {
    f.failure = fail("load", "the module has no forward method");
    return f;
  }
  f.fn = torch::jit::tryToGraphFunction(forward->function());
  if (!f.fn) {
    f.failure = fail("load", "forward is not a TorchScript graph");
    return f;
  }
  f.schema_line = "schema\t" + escape(signature(f.fn->getSchema())) + "\n";
  const std::string problem = check_inputs(f.fn->getSchema(), req.inputs.size());
  if (!problem.empty()) f.failure = f.schema_line + fail("input", problem);
  return f;
}


// ---- training steps ----

// The first floating-point tensor of a forward's result, depth first through tuples, lists and dicts.
std::optional<at::Tensor> first_floating(const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (t.defined() && c10::isFloatingType(t.scalar_type())) return t;
    return std::nullopt;
  }
  if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) {
      if (auto t = first_floating(e)) return t;
    }
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) {
      if (auto t = first_floating(e)) return t;
    }
  } else if (v.isGenericDict()) {
    for (const auto& e : v.toGenericDict()) {
      if (auto t = first_floating(e.value())) return t;
    }
  }
  return std::nullopt;
}

// The autograd node of every tensor in a forward's result, depth first through tuples, lists and dicts.
// Holding the nodes, not the tensors, keeps all the forward saved for backward — in the branches the loss
// does not reach too (BERT's pooler, a second head), as a training loop that keeps the forward's result
// until its step ends does — while an output no node saved is freed.
void collect_grad_fns(const c10::IValue& v, std::vector<c10::intrusive_ptr<torch::autograd::Node>>& nodes) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (t.defined() && t.grad_fn()) nodes.push_back(t.grad_fn());
  } else if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) collect_grad_fns(e, nodes);
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) collect_grad_fns(e, nodes);
  } else if (v.isGenericDict()) {
    for (const auto& e : v.toGenericDict()) collect_grad_fns(e.value(), nodes);
  }
}

// One training step per requested batch, each input's first dimension set to that batch: the module in
// training mode (dropout dropping, BatchNorm on batch statistics), forward with autograd recording, the
// mean of the first floating output as the loss, backward, under the counting allocator. Lines:
//   step <batch> <held> <peak> <gradients> <first floating output's tensor>
//   step_error <batch> <message> [<module path>]      forward or backward failed at that batch
//   no_grad <batch>                                  the output does not depend on a trainable value
// held: bytes allocated since the step began and still alive after the forward, with the autograd graph
// of every output kept until the step ends (the inputs included; the loss, and outputs no node saved, left
// out) — what PyTorch's saved-tensor hooks see, outputs the loss does not use included; peak: the highest
// during backward; gradients: the bytes of the parameters' gradients it left.
// The graph executor's optimisations are off, so every operator records its own autograd node as in
// eager PyTorch (no differentiable subgraphs fused after profiling runs), the same at every batch.
std::string train_steps(const std::string& path, const Request& req) {
  CollectWarnings warnings;
  c10::WarningUtils::WarningHandlerGuard collecting(&warnings);
  Forward opened = open_forward(path, req);
  if (!opened.failure.empty()) return opened.failure;
  torch::jit::Module module = opened.module;
  const bool traced = opened.traced;
  GraphFunction* fn = opened.fn;
  const auto& schema = fn->getSchema();
  std::string out = opened.schema_line;
  std::vector<Fill> fills;
  {
    Inliner inliner(traced);
    std::shared_ptr<Graph> graph = inliner.inlined(*fn);
    fills = fills_for(*graph, schema, req.inputs, module);
  }
  out += describe_fills(fills, req.inputs);
  if (tchinfo_count_install() != 0) return out + fail("internal", "the counting allocator could not be installed");
  torch::jit::GraphOptimizerEnabledGuard plain(false);
  at::AutoGradMode grad(true);
  module.train();
  const auto params = module.parameters();
  const auto& args = schema.arguments();
  for (const int64_t batch : req.train_batches) {
    const std::string b = std::to_string(batch);
    for (auto p : params) p.mutable_grad() = at::Tensor();  // as zero_grad(set_to_none=True)
    const int64_t base = tchinfo_count_live();
    std::vector<c10::IValue> inputs;
    for (size_t i = 0; i < req.inputs.size(); ++i) {
      auto [type, dims] = req.inputs[i];
      if (!dims.empty()) dims[0] = batch;
      try {
        inputs.emplace_back(make_input(type, dims, fills[i]));
      } catch (const std::exception& e) {
        const std::string number = std::to_string(i + 1);
        return out + fail("make_input", message_of(e), &number);
      }
    }
    for (size_t i = inputs.size() + 1; i < args.size(); ++i) inputs.push_back(*args[i].default_value());
    std::optional<at::Tensor> first;
    std::string shape;
    std::vector<c10::intrusive_ptr<torch::autograd::Node>> graph;  // the result's nodes, until the step ends
    try {
      c10::IValue result = module.forward(inputs);
      first = first_floating(result);
      if (first) shape = tensor_text(*first);
      collect_grad_fns(result, graph);
    } catch (const std::exception& e) {
      out += "step_error\t" + b + "\t" + escape(message_of(e)) + "\n";
      continue;
    }
    if (!first || !first->requires_grad()) {
      out += "no_grad\t" + b + "\n";
      continue;
    }
    at::Tensor loss = first->mean(at::kFloat);
    first.reset();
    const int64_t loss_bytes = static_cast<int64_t>(loss.nbytes());
    const int64_t held = tchinfo_count_live() - base - loss_bytes;
    tchinfo_count_reset_peak();
    try {
      loss.backward();
    } catch (const std::exception& e) {
      out += "step_error\t" + b + "\t" + escape(message_of(e)) + "\n";
      continue;
    }
    const int64_t peak = tchinfo_count_peak() - base - loss_bytes;
    int64_t gradients = 0;
    for (const auto& p : params) {
      if (p.grad().defined()) gradients += static_cast<int64_t>(p.grad().nbytes());
    }
    graph.clear();
    out += "step\t" + b + "\t" + std::to_string(std::max<int64_t>(held, 0)) + "\t" +
           std::to_string(std::max<int64_t>(peak, 0)) + "\t" + std::to_string(std::max<int64_t>(gradients, 0)) +
           "\t" + shape + "\n";
  }
  for (auto p : params) p.mutable_grad() = at::Tensor();
  return out + warnings.lines();
}

std::string measure(const std::string& path, const std::string& request_text) {
  const Request req = parse_request(request_text);
  if (!req.train_batches.empty()) return train_steps(path, req);
  CollectWarnings warnings;  // declared first: the guard must put the old handler back before it goes
  c10::WarningUtils::WarningHandlerGuard collecting(&warnings);
  Forward opened = open_forward(path, req);
  if (!opened.failure.empty()) return opened.failure;
  torch::jit::Module module = opened.module;
  const bool traced = opened.traced;
  GraphFunction* fn = opened.fn;
  const auto& schema = fn->getSchema();
  std::string out = opened.schema_line;

  module.eval();
  Inliner inliner(traced);
  std::shared_ptr<Graph> graph = inliner.inlined(*fn);
  out += describe_edges(*graph);
  const std::vector<Fill> fills = fills_for(*graph, schema, req.inputs, module);
  out += describe_fills(fills, req.inputs);
  pretend_grad_enabled(*graph);
  Recorder rec;
  rec.running.emplace_back();  // the root: its own code runs when no child call is open
  add_probes(*graph, rec, req.probing);
  torch::jit::Code code(graph, "forward");

  c10::InferenceMode inference;
  torch::jit::Stack stack{module._ivalue()};
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    const auto& [type, dims] = req.inputs[i];
    try {
      stack.emplace_back(make_input(type, dims, fills[i]));
    } catch (const std::exception& e) {
      const std::string number = std::to_string(i + 1);
      return out + fail("make_input", message_of(e), &number);
    }
  }
  const auto& args = schema.arguments();
  for (size_t i = stack.size(); i < args.size(); ++i) stack.push_back(*args[i].default_value());
  try {
    torch::jit::InterpreterState(code).run(stack);
  } catch (const std::exception& e) {
    const std::string where = rec.running.empty() ? "" : rec.running.back();
    return out + fail("run", message_of(e), &where);
  }
  return out + warnings.lines() + rec.lines + rec.summary();
}

char* to_c(const std::string& text) noexcept {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out) std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

}  // namespace

extern "C" char* tchinfo_jit_measure(const char* path, const char* request) {
  try {
    try {
      return to_c(measure(path ? path : "", request ? request : ""));
    } catch (const std::exception& e) {
      return to_c(fail("internal", message_of(e)));
    } catch (...) {
      return to_c(fail("internal", "unknown C++ exception"));
    }
  } catch (...) {  // building the error text itself failed: out of memory
    return nullptr;
  }
}

extern "C" void tchinfo_jit_free(char* text) { std::free(text); }
