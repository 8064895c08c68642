"""Anchor for `poolrun factor --input`: the tutorial's smallest_factor on ProcessPoolExecutor(2)
over the same HDF5 dataset, read with h5py. Prints numbers/s.

    ppe_factor.py FILE.h5 DSET COUNT CHUNKSIZE
"""
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import h5py


def smallest_factor(n):  # the tutorial's, returning 0 for a prime as poolrun does
    for i in range(2, int(math.sqrt(n)) + 1):
        if n % i == 0:
            return i
    return 0


if __name__ == "__main__":
    path, dset, count, chunksize = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        nums = [int(x) for x in f[dset][:count]]
    with ProcessPoolExecutor(2) as ex:
        factors = list(ex.map(smallest_factor, nums, chunksize=chunksize))
    dt = time.perf_counter() - t0
    print(f"ppe factor: {len(factors)} numbers in {dt:.3f} s, {len(factors) / dt:.0f} numbers/s")
