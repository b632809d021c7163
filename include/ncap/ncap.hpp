// Everything an embedding application needs.
#pragma once

#include "ncap/device.hpp"
#include "ncap/dma.hpp"
#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "ncap/mempool.hpp"
#include "ncap/packet.hpp"
#include "ncap/pci.hpp"
