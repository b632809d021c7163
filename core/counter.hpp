// Forwards to the public ncap/counter.hpp (the single-writer counters are part of the
// API: QueueCounters and WorkerStats are written with them). Include that one instead.
#pragma once

#include "ncap/counter.hpp"
