#pragma once
// The workload API: write what a chunk computes, get the run machinery (docs/workloads.md).
#include "libpool/batch/options.hpp"
#include "libpool/batch/run.hpp"
#include "libpool/batch/workload.hpp"
#include "libpool/libpool.hpp"
