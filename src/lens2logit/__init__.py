"""lens2logit: raw sensor data and explicit ISP models for hardware-drift studies.

Re-implements and extends "From Lens to Logit" (Oala et al., NeurIPS 2021 Datasets & Benchmarks).
"""

__version__ = "0.1.0"
