"""The rules every layer shares, each written once: durations and ages, secrets and masking,
HCL value conversions. This package imports nothing else of the project, and everything may
import it (the layering test in tests/test_layering.py holds both)."""
