"""Compartmental epidemic models (SEIR, SEIRD-ICU), ensemble integration and fitting."""
