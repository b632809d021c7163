#include "drivers/ixgbe/chip_traits.hpp"

#include "drivers/common/pci_table.hpp"

#include "drivers/ixgbe/regs.hpp"

namespace ncap::ixgbe {
namespace {

constexpr ChipTraits k82599 = {
    .chip = "82599",
    .max_rx_queues = 128,
    .max_tx_queues = 128,
    .max_rss_queues = 16,
    .mrqc = 0x0EC80,
    .reta = 0x0EB00,
    .rssrk = 0x0EB80,
    .ral0 = 0x0A200,
    .srrctl_base = 0x01014,
    .srrctl_stride = 0x40,
    .has_dmaidone = true,
    .has_dmatxctl = true,
    .has_secrx = true,
    .has_qprdc = true,
    .has_queue_filters = true,
    .rdrxctl_crc_strip = true,
    .rdrxctl_mvmen = false,
    .has_rsc_fields = true,
    .has_no_snoop_disable = true,
    .links_speed_field = true,
    .vlan_strip_per_queue = true,
    .octets_high_only = false,  // 36-bit low/high pairs (8.2.3.23.23-26)
};
constexpr ChipTraits k82598 = {
    .chip = "82598",
    .max_rx_queues = 64,
    .max_tx_queues = 32,
    .max_rss_queues = 16,
    .mrqc = 0x05818,
    .reta = 0x05C00,
    .rssrk = 0x05C80,
    .ral0 = 0x05400,
    .srrctl_base = 0x02100,
    .srrctl_stride = 4,
    .has_dmaidone = false,
    .has_dmatxctl = false,
    .has_secrx = false,
    .has_qprdc = false,
    .has_queue_filters = false,
    // DPDK and Linux set RDRXCTL.CRCSTRIP only on the 82599 and later; Linux's
    // ixgbe_setup_rdrxctl sets MVMEN on the 82598 and programs SRRCTL[0..15].
    .rdrxctl_crc_strip = false,
    .rdrxctl_mvmen = true,
    .has_rsc_fields = false,
    .has_no_snoop_disable = false,
    .links_speed_field = false,
    .vlan_strip_per_queue = false,
    // "82598 only has a counter in the high register" (DPDK ixgbe_read_stats_registers,
    // Linux ixgbe_update_stats); the 82598 datasheet lists TOR as 0x040C4 alone.
    .octets_high_only = true,
};

using enum Media;
// Device ids, names and media: DPDK ixgbe_type.h IXGBE_DEV_ID_* and
// ixgbe_get_media_type_82598/82599 (the datasheets' 9.3.3 lists the ids).
constexpr PciModel kIds[] = {
    {0x10b6, "82598 backplane", backplane, &k82598},
    {0x10c6, "82598EB AF dual", fiber, &k82598},
    {0x10c7, "82598EB AF single", fiber, &k82598},
    {0x10c8, "82598EB AT copper", copper, &k82598},
    {0x150b, "82598EB AT2 copper", copper, &k82598},
    {0x10db, "82598EB SFP+ LOM", fiber, &k82598},
    {0x10dd, "82598EB CX4", cx4, &k82598},
    {0x10ec, "82598 CX4 dual", cx4, &k82598},
    {0x10e1, "82598 SR dual EM", fiber, &k82598},
    {0x10f1, "82598 DA dual", fiber, &k82598},
    {0x10f4, "82598EB XF LR", fiber, &k82598},
    {0x10f7, "82599 KX4", backplane, &k82599},
    {0x10f8, "82599 combined backplane", backplane, &k82599},
    {0x10f9, "82599 CX4", cx4, &k82599},
    {0x10fb, "82599ES SFP+", fiber, &k82599},
    {0x10fc, "82599 XAUI LOM", backplane, &k82599},
    {0x1507, "82599 SFP+ EM", fiber, &k82599},
    {0x1514, "82599 KX4 mezzanine", backplane, &k82599},
    {0x1517, "82599 KR", backplane, &k82599},
    {0x151c, "82599 T3 LOM copper", copper, &k82599},
    {0x1529, "82599 SFP+ FCoE", fiber, &k82599},
    {0x152a, "82599 backplane FCoE", backplane, &k82599},
    {0x154d, "82599 SFP+ SF2", fiber, &k82599},
    {0x1557, "82599EN SFP+", fiber, &k82599},
};

}  // namespace

const PciModel* model_for(uint16_t device_id) noexcept { return intel::find_row(kIds, device_id); }

const char* media_name(Media m) noexcept {
  switch (m) {
    case backplane: return "backplane";
    case fiber: return "fiber";
    case cx4: return "CX4";
    case copper: return "copper";
  }
  return "unknown";
}

std::vector<PciId> pci_ids() { return intel::pci_ids_of(kIds); }

}  // namespace ncap::ixgbe
