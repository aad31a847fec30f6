"""The spec's rules for stored data: dtypes and their widening, shapes, fixed values.

One place decides what a stored HDF5 value may be for a spec dtype or shape; the
models' own checks, validation and edit checks all ask here.
"""
