"""Gradient-flow statistics: one per module, each with a stable name (PRODUCT.md section 3)."""
