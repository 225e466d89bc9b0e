// A CPU allocator that counts: libtorch lets a program replace its CPU allocator (c10::SetCPUAllocator),
// and this one hands every request to the allocator it replaced while keeping the bytes live and the
// highest they reached. That is how `plan` measures what a training step really holds: the bytes
// autograd keeps for backward after the forward, and the peak during backward — as the allocator sees
// them, deduplicated by construction (a view or a tensor saved twice allocates nothing more).
//
// Only allocations made after installation are counted, and each is uncounted by its own deleter, so a
// tensor allocated before and freed after cannot make the count negative. Memory that kernels take
// outside libtorch's allocator (oneDNN scratch space, OpenMP stacks) is not seen; the plan says so.

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdint>

namespace {

// Every block carries its size in a header of kHeader bytes in front of the data, so the data pointer is
// its own context: libtorch's raw_allocate (oneDNN's convolutions use it) asserts exactly that. The
// header keeps the 64-byte alignment of the allocator underneath.
constexpr size_t kHeader = 64;

class CountingAllocator final : public c10::Allocator {
 public:
  CountingAllocator(c10::Allocator* inner, c10::DeleterFnPtr inner_free) : inner_(inner), inner_free_(inner_free) {}

  c10::DataPtr allocate(size_t n) override {
    void* base = inner_->raw_allocate(n + kHeader);
    *static_cast<size_t*>(base) = n;
    void* data = static_cast<char*>(base) + kHeader;
    add(static_cast<int64_t>(n));
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  int64_t live() const { return live_.load(); }
  int64_t peak() const { return peak_.load(); }
  void reset_peak() { peak_.store(live_.load()); }

  static CountingAllocator* instance;

 private:
  static void release(void* data) {
    if (!data) return;
    void* base = static_cast<char*>(data) - kHeader;
    instance->add(-static_cast<int64_t>(*static_cast<size_t*>(base)));
    instance->inner_free_(base);
  }

  void add(int64_t n) {
    const int64_t now = live_.fetch_add(n) + n;
    int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
  }

  c10::Allocator* inner_;
  c10::DeleterFnPtr inner_free_;
  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> peak_{0};
};

CountingAllocator* CountingAllocator::instance = nullptr;
CountingAllocator* installed = nullptr;

}  // namespace

// Installs the counting allocator once (later calls do nothing); returns 0 when it is in place.
extern "C" int tchinfo_count_install() {
  try {
    if (!installed) {
      c10::Allocator* inner = c10::GetCPUAllocator();
      // The blocks underneath are freed by their raw deleter, which the default CPU allocator has.
      if (!inner->raw_deleter()) return 1;
      static CountingAllocator counter(inner, inner->raw_deleter());
      CountingAllocator::instance = &counter;
      // Priority 1 outranks the default CPU allocator's registration (0).
      c10::SetCPUAllocator(&counter, 1);
      if (c10::GetCPUAllocator() != &counter) return 1;
      installed = &counter;
    }
    return 0;
  } catch (...) {
    return 1;
  }
}

// Bytes live in tensors allocated since installation (-1 before it).
extern "C" int64_t tchinfo_count_live() { return installed ? installed->live() : -1; }

// The highest the live bytes reached since the last reset (-1 before installation).
extern "C" int64_t tchinfo_count_peak() { return installed ? installed->peak() : -1; }

// Starts a new peak from the bytes live now.
extern "C" void tchinfo_count_reset_peak() {
  if (installed) installed->reset_peak();
}
