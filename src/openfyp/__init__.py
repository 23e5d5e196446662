"""openfyp: a self-hostable short-video platform with a sovereign, auditable For You engine."""

__version__ = "0.1.0"
