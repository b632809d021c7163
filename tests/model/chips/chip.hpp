// A register-level model of an Intel NIC port, in-process, behind RegisterIo (so the
// unchanged driver talks to it) and Backend (so ncap::open("model:82599") works).
//
// What the base class models, for every chip: the register file with its access modes,
// advanced RX/TX descriptor rings in DMA memory reached through the model IOMMU, a device
// thread that receives frames into RX descriptors (queue chosen by the chip: filters,
// Toeplitz RSS) and transmits TX descriptors to a capture list or to a peer port, the
// statistics it keeps, and strict checks: a violation of a datasheet rule is recorded
// with the section that states it (the driver's write path is noexcept, so the model
// records instead of throwing; tests assert that violations() is empty).
//
// Chips (ixgbe_chips.cpp, e82576_chip.cpp) supply the register table, the queue
// register layout and the behaviours that differ (reset, link, queue selection).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/backend.hpp"
#include "tests/model/chips/register_file.hpp"

namespace ncap::model {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

struct Violation {
  std::string section;  // "82599 datasheet 4.6.7.1"
  std::string message;
};

// Where every frame offered to the port went: offered = delivered + the drops.
struct ModelCounters {
  uint64_t offered = 0;            // frames that arrived on the wire (inject, peer, generator)
  uint64_t delivered = 0;          // written into an RX descriptor
  uint64_t dropped_link_down = 0;  // the link was down: never reached the MAC
  uint64_t dropped_rx_disabled = 0;
  uint64_t dropped_l2 = 0;  // destination MAC not accepted (no promiscuous)
  uint64_t dropped_queue_disabled = 0;
  uint64_t dropped_no_descriptor = 0;  // ring full (counted by the chip in MPC/QPRDC/RNBC)
  uint64_t dropped_oversize = 0;       // larger than the RX buffer (chaining not modeled)
  uint64_t dma_faults = 0;             // descriptor or buffer outside mapped memory
  uint64_t transmitted = 0;            // TX frames completed
  uint64_t tx_capture_overflow = 0;
};

// Static facts of a chip model.
struct ChipSpec {
  std::string name;    // "82599"
  uint16_t device_id;  // PCI device id the model reports
  uint32_t bar_size;
  uint16_t rx_queues;
  uint16_t tx_queues;
  std::string datasheet;    // "82599 datasheet rev 3.3"
  std::string sec_summary;  // register summary section
  std::string sec_rx_init;
  std::string sec_rx_enable;  // dynamic queue enable
  std::string sec_tx_init;
  std::string sec_tx_enable;
  std::string sec_rx_desc;
  std::string sec_tx_desc;
  uint32_t srrctl_bsize_mask;  // BSIZEPACKET field (1 KiB units)
  uint32_t rxd_err_frame;      // advanced RX write-back: "frame error" (RXE) bit
  bool tx_on_tail_write;       // process TX synchronously on the TDT write (QEMU's 82576)
};

class Chip : public RegisterIo, public std::enable_shared_from_this<Chip> {
 public:
  ~Chip() override;
  Chip(const Chip&) = delete;
  Chip& operator=(const Chip&) = delete;

  const ChipSpec& spec() const noexcept { return spec_; }
  const std::string& address() const noexcept { return address_; }
  // A Backend for ncap::open_backend(); it keeps the chip alive.
  std::unique_ptr<Backend> backend();

  // ---- traffic ----
  // A frame (without FCS) arrives on the wire. crc_error: the NIC sees a bad FCS.
  void inject(std::span<const uint8_t> frame, bool crc_error = false);
  // TX frames completed so far (and forgets them). Frames go here unless a peer is wired.
  std::vector<Bytes> take_transmitted();
  void set_capture(bool on) noexcept { capture_.store(on); }
  // What this port transmits, `peer` receives (call on both for a bidirectional wire).
  void connect(const std::shared_ptr<Chip>& peer);
  // Generator in the device thread: `count` copies of `frame` (0 = until stopped), the
  // UDP/TCP source port stepped through `flows` values, as fast as the rings take them.
  // replies: every other round of the flows goes back (addresses and ports swapped), so
  // each flow has both directions. delay: the first frame not before this long from now.
  // lossless: a frame waits until every enabled RX queue has a free descriptor (a peer
  // with flow control) instead of being dropped as "no descriptor". pps: at most this
  // many frames a second (0: as fast as possible); see process_generator.
  void generate(const Bytes& frame, uint64_t count, uint32_t flows = 1, bool replies = false,
                std::chrono::milliseconds delay = {}, bool lossless = false, uint64_t pps = 0);
  void stop_generator() noexcept { gen_left_.store(0); }
  // Waits until injected frames and posted TX descriptors are processed. false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  // ---- faults ----
  void set_cable(bool connected);                           // link partner present (link down/up on demand)
  void set_dead(bool dead) noexcept { dead_.store(dead); }  // reads 0xffffffff, nothing answers
  // Dies right after the n-th register write from now: a device that stops answering at
  // a chosen point of the driver's sequence, independent of timing.
  void die_after_writes(int64_t n) noexcept { writes_until_dead_.store(n); }
  bool dead() const noexcept { return dead_.load(); }
  bool link_up() const noexcept { return link_up_.load(); }
  // Register reads and writes the driver made so far (a stopped driver makes none).
  uint64_t accesses() const noexcept { return accesses_.load(); }

  // ---- verification ----
  std::vector<Violation> violations() const;
  std::string violations_text() const;  // one line each, for test failure messages
  void clear_violations();
  ModelCounters counters() const;
  // Raw register value without side effects (no read-to-clear), for tests.
  uint32_t peek(uint32_t off) const noexcept { return regs_.get(off); }

  // ---- benchmark hooks (driver work measured alone) ----
  void pause(bool paused);  // stops and resumes the device thread (waits for it)
  void set_busy_poll(bool on) noexcept { busy_poll_.store(on); }
  // With the thread paused: fills every free descriptor of RX queue q with `frame` and
  // returns how many; completes every posted TX descriptor of queue q.
  uint32_t fill_rx(uint16_t q, std::span<const uint8_t> frame) noexcept;
  uint32_t complete_tx(uint16_t q) noexcept;

 protected:
  Chip(ChipSpec spec, const std::vector<RegDef>& regs);
  void start();          // starts the device thread; the subclass calls it once constructed
  void stop() noexcept;  // joins it; the subclass destructor calls it (the thread calls virtuals)

  uint32_t model_read32(uint32_t off) override;
  void model_write32(uint32_t off, uint32_t v) noexcept override;

  // ---- what a chip supplies ----
  // Queue register blocks (RDBAL..RXDCTL, TDBAL..TXDCTL use the same offsets inside).
  virtual uint32_t rx_block(uint16_t q) const noexcept = 0;
  virtual uint32_t tx_block(uint16_t q) const noexcept = 0;
  virtual uint32_t srrctl(uint16_t q) const noexcept = 0;
  // Side effects of a register access (after the store; `old` is the previous value).
  virtual void on_write(uint32_t off, uint32_t old, uint32_t v) noexcept = 0;
  // Value a read returns (after access-mode handling); may check ordering rules.
  virtual uint32_t on_read(uint32_t off, uint32_t v) noexcept {
    (void)off;
    return v;
  }
  // false: the access is refused (e.g. during a reset; the chip records why).
  virtual bool accept_access(uint32_t off, bool write) noexcept {
    (void)off;
    (void)write;
    return true;
  }
  // Timed events (reset completion, autonegotiation); called often by the device thread.
  virtual void tick(Clock::time_point now) noexcept = 0;
  virtual bool rx_enabled() const noexcept = 0;
  // Whether RX queue q strips an 802.1Q tag into the descriptor (82576 and 82598: one
  // global bit, 82599: RXDCTL.VME per queue). Default: no.
  virtual bool vlan_strip(uint16_t q) const noexcept {
    (void)q;
    return false;
  }
  virtual bool tx_enabled(uint16_t q) const noexcept = 0;
  virtual bool l2_accept(const uint8_t* f, size_t len) const noexcept = 0;
  // RX queue for a frame (-1: drop). Sets the RSS hash and type for the descriptor.
  virtual int select_queue(const uint8_t* f, size_t len, uint32_t* hash, uint8_t* rss_type) noexcept = 0;
  virtual void count_no_descriptor(uint16_t q) noexcept = 0;
  virtual void count_rx(uint16_t q, size_t len, bool crc_error) noexcept = 0;
  virtual void count_tx(uint16_t q, size_t len) noexcept = 0;
  virtual void link_changed(bool up) noexcept = 0;

  // ---- helpers for chips ----
  void violate(const std::string& section, const std::string& message) noexcept;
  void set_link(bool up) noexcept;  // the chip decides when the link is up
  bool cable() const noexcept { return cable_.load(); }
  void reset_datapath() noexcept;  // drops ring state on a chip reset
  // Two registers forming one 64-bit read-to-clear counter: reading the low half latches
  // the count, reading the high half returns its high bits and clears it (chip.cpp).
  void add_counter64(uint32_t low_off, uint64_t v) noexcept;
  void declare_counter64(uint32_t low_off, uint32_t high_off);
  uint32_t rx_ring_size(uint16_t q) const noexcept { return regs_.get(rx_block(q) + kLen) / 16; }
  bool rx_room() const noexcept;  // every enabled RX queue has a free descriptor
  uint32_t tx_ring_size(uint16_t q) const noexcept { return regs_.get(tx_block(q) + kLen) / 16; }

  // Offsets inside a queue block, identical on 82576, 82598 and 82599.
  static constexpr uint32_t kBal = 0x00, kBah = 0x04, kLen = 0x08, kHead = 0x10, kTail = 0x18, kCtl = 0x28;
  static constexpr uint32_t kQueueEnable = 1u << 25;  // RXDCTL/TXDCTL.ENABLE

  ChipSpec spec_;
  RegisterFile regs_;
  std::string address_;

  // Per-queue facts the generic checks need.
  struct QueueState {
    bool enable_written = false;  // driver wrote ENABLE=1
    bool enable_seen = false;     // driver read ENABLE=1 back (datasheet: poll before tail)
    uint32_t reads_until_enabled = 0;
  };
  std::vector<QueueState> rxq_, txq_;

 private:
  friend class ModelBackend;
  void run() noexcept;
  bool process_inbound() noexcept;
  bool process_generator() noexcept;
  uint32_t process_tx(uint16_t q) noexcept;
  void receive(const uint8_t* f, size_t len, bool crc_error) noexcept;
  bool write_rx(uint16_t q, const uint8_t* f, size_t len, uint32_t hash, uint8_t rss_type, bool crc_error,
                bool count_full, int32_t vlan = -1) noexcept;
  void check_generic_write(uint32_t off, uint32_t v) noexcept;
  void deliver_tx(const uint8_t* f, size_t len) noexcept;

  std::atomic<bool> running_{true};
  std::atomic<bool> paused_{false};
  std::atomic<bool> thread_parked_{false};
  std::atomic<bool> busy_poll_{false};
  std::atomic<bool> dead_{false};
  std::atomic<int64_t> writes_until_dead_{-1};
  std::atomic<uint64_t> accesses_{0};
  std::atomic<bool> cable_{true};
  std::atomic<bool> link_up_{false};
  std::atomic<bool> capture_{true};
  std::atomic<bool> bus_master_{false};  // PCI bus mastering: off until a backend opens
  std::atomic<uint32_t> dma_passes_{0};  // device-thread passes that may DMA (see run())
  void disable_bus_master() noexcept;    // returns once no DMA is in flight
  std::atomic<uint32_t> tx_active_{0};   // 1 + highest TX queue ever enabled
  std::vector<uint32_t> role_;           // BAR dword -> queue register role (see chip.cpp)
  std::thread thread_;

  mutable std::mutex mu_;  // guards everything below (setup/test side, not per register)
  std::deque<std::pair<Bytes, bool>> inbound_;
  std::vector<Bytes> transmitted_;
  std::vector<Violation> violations_;
  std::weak_ptr<Chip> peer_;
  enum Ctr {
    kOffered,
    kDelivered,
    kLinkDown,
    kRxDisabled,
    kL2,
    kQueueDisabled,
    kNoDesc,
    kOversize,
    kDmaFault,
    kTransmitted,
    kCaptureOverflow,
    kNumCtr
  };
  std::atomic<uint64_t> ctr_[kNumCtr] = {};
  void bump(Ctr c) noexcept { ctr_[c].fetch_add(1, std::memory_order_relaxed); }
  std::atomic<uint64_t> busy_{0};  // inbound frames taken but not yet processed

  Bytes gen_frame_;
  std::atomic<uint64_t> gen_left_{0};
  bool gen_forever_ = false;
  uint32_t gen_flows_ = 1;
  bool gen_replies_ = false;
  bool gen_lossless_ = false;
  uint64_t gen_pps_ = 0;
  bool gen_paced_ = false;  // the schedule's origin (gen_start_) is set
  int64_t gen_offset_ = 0;  // gen_seq_ at the origin, minus the frames the schedule slipped
  std::chrono::steady_clock::time_point gen_start_{};
  Bytes gen_base_;  // the frame as given: its addresses and destination port
  uint32_t gen_seq_ = 0;

  std::vector<Bytes> tx_pending_;  // per TX queue: frame being gathered across descriptors
  struct Counter64 {
    uint32_t low, high;
    std::atomic<uint64_t> acc{0};
    uint64_t latched = 0;  // the count the last low-half read reported
    bool latched_valid = false;
  };
  std::deque<Counter64> counters64_;
};

// Creates a model by chip name ("82599", "82598", "82576"); throws for other names.
// device_id: the PCI id the model reports (ixgbe: it selects the port's media and the
// link mode its NVM loads); 0 = the chip's default port.
std::shared_ptr<Chip> create(std::string_view chip, uint16_t device_id = 0);
// The chip behind a device opened from a model spec (by DeviceInfo::address), or null.
std::shared_ptr<Chip> find(std::string_view address);

}  // namespace ncap::model
