#!/usr/bin/env python3
"""Writes the hostile HDF5 files of the output-guard and confinement tests (h5py, Debian's
python3-h5py). Run from anywhere: /usr/bin/python3 tests/data/hostile/generate_hostile.py

- external.h5: dataset "w" whose raw data live in an external file (secret.bin beside it),
  as HDF5's external storage allows (H5Pset_external; h5py's `external=`).
- virtual.h5: dataset "v", a virtual dataset mapped from source.h5 (HDF5 1.10 VDS).
- keras-residue.h5: the digits MLP sample with a dataset of marker bytes written and then
  deleted; HDF5 leaves the deleted bytes in the file, and an export must not carry them over.
- zeros.npz: np.savez_compressed of a [1024, 1024] float32 array of zeros: 4 MiB deflated to a
  few KiB, for the memory budget on inflating (QUANTLENS_MEMORY_LIMIT) and cancelled reads.
- huge-scale.npy: a [2, 32] float32 layer with one weight of 1e6, whose Q4_0 scale (-1e6/8)
  overflows half precision: analyze and compare must exit 3 rather than print inf.
- keras-external.h5: the digits MLP sample (samples/digits-mlp.h5) with its first Dense kernel
  moved to external storage (kernel.bin), so a fake-quant export would write into kernel.bin.
"""
import os
import shutil

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", "..", ".."))


def path(name):
    return os.path.join(here, name)


secret = np.arange(16, dtype=np.float32) * 1000.0
secret.tofile(path("secret.bin"))
with h5py.File(path("external.h5"), "w") as f:
    f.create_dataset("w", shape=(4, 4), dtype="<f4", external=[("secret.bin", 0, secret.nbytes)])

with h5py.File(path("source.h5"), "w") as f:
    f.create_dataset("data", data=np.ones((4, 4), dtype=np.float32))
layout = h5py.VirtualLayout(shape=(4, 4), dtype="<f4")
layout[:] = h5py.VirtualSource("source.h5", "data", shape=(4, 4))
with h5py.File(path("virtual.h5"), "w") as f:
    f.create_virtual_dataset("v", layout)

shutil.copyfile(os.path.join(root, "samples", "digits-mlp.h5"), path("keras-external.h5"))
with h5py.File(path("keras-external.h5"), "r+") as f:
    names = []
    f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) and n.endswith("kernel:0") else None)
    name = sorted(names)[0]
    kernel = f[name][()]
    attributes = dict(f[name].attrs)
    del f[name]
    kernel.astype("<f4").tofile(path("kernel.bin"))
    f.create_dataset(name, shape=kernel.shape, dtype="<f4", external=[("kernel.bin", 0, kernel.nbytes)])
    for key, value in attributes.items():
        f[name].attrs[key] = value
    print("external kernel:", name, kernel.shape)

# huge-fill.h5: 1.5 KB on disk, a chunked dataset of 2^30 float32 values never written: reading
# it yields 4 GiB of fill values, past the HDF5 check's memory budget.
with h5py.File(path("huge-fill.h5"), "w") as f:
    f.create_dataset("w", shape=(1 << 15, 1 << 15), dtype="<f4", chunks=(1024, 1024))

huge = np.ones((2, 32), dtype="<f4")
huge[0, 5] = 1e6
np.save(path("huge-scale.npy"), huge)

shutil.copyfile(os.path.join(root, "samples", "digits-mlp.h5"), path("keras-residue.h5"))
with h5py.File(path("keras-residue.h5"), "r+") as f:
    f.create_dataset("model_weights/leftover", data=np.frombuffer(b"QUANTLENS-RESIDUE-" * 64, dtype=np.uint8))
    f.flush()
    # Something allocated after the marker keeps its hole inside the file (HDF5 gives back free
    # space at the end of a file at once).
    f.attrs["note"] = "x" * 4096
    f.flush()
    del f["model_weights/leftover"]

np.savez_compressed(path("zeros.npz"), w=np.zeros((1024, 1024), dtype="<f4"))
